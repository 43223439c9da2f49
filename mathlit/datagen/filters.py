"""Rejection sampling's filter: correct, self-consistent, distinct reasoning paths (RFT, Algorithm 1).

For each question, a sampled path is kept when
1. it states its final answer in the training format (#### N, or \\boxed{} for MATH) and that answer equals
   the gold answer (the lenient last-number fallback of evaluation would let gibberish ending in a lucky
   number through);
2. every calculator annotation <<lhs=rhs>> holds (lhs evaluated exactly, |lhs - rhs| < 1e-3), and the
   number written right after it, if any, is its rhs (no copy slip);
3. its reasoning is new: the key is the ordered list of its equations with spaces removed (swapped
   operands or another order are new), and the reference solution's key counts as taken. Among
   paths with the same new key, the one with the largest summed edit distance (over words) to the
   paths kept so far is kept.
A union across models (RFT-U13B) is the same filter over the pooled paths of several sources.
"""

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from mathlit.answers.calculator import calculations_hold, equations
from mathlit.data.formats import Example

REASONS = ("no_answer", "wrong_answer", "bad_calculation", "duplicate")
_FINAL = {"gsm8k": re.compile(r"####\s*\S"), "math": re.compile(r"\\(?:boxed|fbox)")}


def states_final_answer(text: str, domain: str) -> bool:
    return bool(_FINAL[domain].search(text))


def word_distance(a: str, b: str) -> int:
    """Levenshtein distance over whitespace-separated words (pure Python, fast enough per question)."""
    x, y = a.split(), b.split()
    previous = list(range(len(y) + 1))
    for i, wx in enumerate(x, start=1):
        current = [i]
        for j, wy in enumerate(y, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (wx != wy)))
        previous = current
    return previous[-1]


@dataclass
class Selection:
    kept: list[dict]
    rejected: Counter = field(default_factory=Counter)
    correct: int = 0  # samples that passed steps 1 and 2, duplicates included


def select_paths(records: list[dict], reference: str | None, dedup: bool = True) -> Selection:
    """One question's sampled records (in sample order) -> the distinct correct paths to train on."""
    selection = Selection([])
    candidates = []
    for r in records:
        if r.get("answer") is None or not states_final_answer(r["completion"], r.get("domain", "gsm8k")):
            selection.rejected["no_answer"] += 1
        elif not r["correct"]:
            selection.rejected["wrong_answer"] += 1
        elif not calculations_hold(r["completion"]):
            selection.rejected["bad_calculation"] += 1
        else:
            candidates.append(r)
    selection.correct = len(candidates)
    if not dedup:  # exact repeats of a text are still one path
        seen = {reference}
        for r in candidates:
            if r["completion"] in seen:
                selection.rejected["duplicate"] += 1
            else:
                seen.add(r["completion"])
                selection.kept.append(r)
        return selection
    groups: dict[tuple, list[dict]] = {}
    for r in candidates:
        groups.setdefault(tuple(equations(r["completion"])), []).append(r)
    taken = {tuple(equations(reference))} if reference else set()
    kept_texts = [reference] if reference else []
    for key, members in groups.items():
        if key in taken:
            selection.rejected["duplicate"] += len(members)
            continue
        best = max(members, key=lambda r: sum(word_distance(r["completion"], t) for t in kept_texts))
        selection.kept.append(best)
        kept_texts.append(best["completion"])
        taken.add(key)
        selection.rejected["duplicate"] += len(members) - 1
    return selection


@dataclass
class RFTData:
    augmented: list[Example]
    report: dict


def build_rft_data(
    pools: Iterable[list[dict]], questions: list[Example], dedup: bool = True, dedup_with_reference: bool = True
) -> RFTData:
    """Filter the pooled samples of every source (one list of records per source) for each question.

    Records are matched to questions by question text, so samples from other runs and models pool.
    """
    per_question: dict[str, list[dict]] = {q.question: [] for q in questions}
    samples = answer_errors = 0
    for records in pools:
        for r in records:
            if r["question"] in per_question:
                per_question[r["question"]].append(r)
                samples += 1
                answer_errors += "answer_error" in r
    augmented, rejected, distinct, covered = [], Counter(), [], 0
    for q in questions:
        selection = select_paths(per_question[q.question], q.solution if dedup_with_reference else None, dedup)
        rejected.update(selection.rejected)
        distinct.append(len(selection.kept))
        covered += selection.correct > 0
        for j, r in enumerate(selection.kept):
            meta = {"rft_of": q.id, "source": r.get("source", ""), "sample_idx": r["sample_idx"]}
            augmented.append(Example(f"{q.id}#rft{j}", q.question, r["completion"].strip(), q.answer, q.domain, meta))
    histogram = Counter(distinct)
    report = {
        "questions": len(questions),
        "samples": samples,
        "accepted": len(augmented),
        "answer_errors": answer_errors,  # samples whose grading failed (counted wrong; see their answer_error)
        "rejected": {reason: rejected.get(reason, 0) for reason in REASONS},
        "covered": covered,
        "coverage": covered / max(1, len(questions)),  # at least one correct path
        "with_new_paths": sum(n > 0 for n in distinct),
        "distinct_paths_mean": sum(distinct) / max(1, len(questions)),  # new paths, the reference not counted
        "distinct_paths_histogram": {str(n): histogram[n] for n in sorted(histogram)},
    }
    return RFTData(augmented, report)
