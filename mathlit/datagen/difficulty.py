"""Difficulty-aware rejection sampling (DART-Math's Prop2Diff, Tong et al. 2024) for RFT.

Uniform RFT samples k paths per question, so hard questions end with few correct paths or none. Prop2Diff
measures each question's failure rate on the first k samples and asks for a number of distinct correct paths
that grows with it: target = max(1, ceil(rft.min_correct * failure rate)). Questions short of their target are
sampled again, k at a time, until they reach it or have had rft.max_samples tries; each kept at most `target`
paths, so the data leans toward hard questions.
"""

import math
from collections.abc import Callable

from mathlit.data.formats import Example
from mathlit.datagen.filters import select_paths

BUCKETS = ((0.0, 0.25), (0.25, 0.5), (0.5, 0.75), (0.75, 1.01))  # failure rate on the first round


def failure_rates(records: list[dict], questions: list[Example]) -> dict[str, float]:
    """Share of each question's samples that are wrong (no answer included), by question id."""
    tried: dict[str, list[bool]] = {q.id: [] for q in questions}
    for r in records:
        tried[r["id"]].append(bool(r["correct"]))
    return {qid: 1 - sum(c) / len(c) if c else 1.0 for qid, c in tried.items()}


def targets(failures: dict[str, float], min_correct: int) -> dict[str, int]:
    return {qid: max(1, math.ceil(min_correct * f)) for qid, f in failures.items()}


def sample_until_targets(
    questions: list[Example],
    first: list[dict],
    sample: Callable[[list[Example], int], list[dict]],
    *,
    min_correct: int,
    k: int,
    max_samples: int,
    dedup: bool,
    with_reference: bool,
) -> tuple[list[dict], dict[str, int]]:
    """All records (the first round's, then `sample(questions_short_of_target, round)`'s), and the targets."""
    goal = targets(failure_rates(first, questions), min_correct)
    records, round_ = list(first), 1
    while True:
        by_id: dict[str, list[dict]] = {q.id: [] for q in questions}
        for r in records:
            by_id[r["id"]].append(r)

        short = [
            q
            for q in questions
            if len(by_id[q.id]) + k <= max_samples
            and len(select_paths(by_id[q.id], q.solution if with_reference else None, dedup).kept) < goal[q.id]
        ]
        if not short:
            return records, goal
        round_ += 1
        records += sample(short, round_)


def by_difficulty(failures: dict[str, float], kept: dict[str, int]) -> dict[str, dict]:
    """Questions, coverage (at least one kept path) and mean kept paths per failure-rate bucket."""
    report = {}
    for low, high in BUCKETS:
        ids = [qid for qid, f in failures.items() if low <= f < high]
        name = f"{low:.2f}-{min(high, 1.0):.2f}"
        counts = [kept.get(qid, 0) for qid in ids]
        report[name] = {
            "questions": len(ids),
            "coverage": sum(c > 0 for c in counts) / max(1, len(ids)),
            "kept_mean": sum(counts) / max(1, len(ids)),
        }
    return report


def cap_to_targets(augmented: list[Example], goal: dict[str, int]) -> tuple[list[Example], dict[str, int]]:
    """At most `goal[question]` kept paths per question (in the filter's order), and the count kept of each."""
    kept, count = [], dict.fromkeys(goal, 0)
    for e in augmented:
        question = e.meta["rft_of"]
        if count[question] < goal[question]:
            kept.append(e)
            count[question] += 1
    return kept, count
