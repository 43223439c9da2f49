"""Process labels by rollouts (Math-Shepherd, Wang et al. 2024): where did a wrong solution go wrong?

A wrong solution's steps are its lines. From the prompt plus its first k steps the generator completes the
solution `verifier.rollouts` times; the prefix can still reach the gold answer when any completion does (the
paper's hard estimate). The first step whose prefix cannot is the first wrong step: it and every later step
are labelled incorrect, the earlier ones correct (mathlit.data.verifier.step_labels). When every proper
prefix can still reach the answer, the last step is the wrong one. This needs no calculator annotations, so
it labels MATH-style solutions too.

The rollouts are sampled like any other samples (mathlit.sampling.records: sharded, resumable, pinned to the
generator's weights) in <out_dir>/samples.jsonl, one "problem" per (solution, prefix).
"""

import hashlib
from pathlib import Path

from mathlit.answers.grading import Grading
from mathlit.data.formats import Example
from mathlit.data.tokenize import format_prompt
from mathlit.sampling import Sampler, SamplingParams
from mathlit.sampling.records import sample_records


def steps(solution: str) -> list[str]:
    """A solution's steps: its lines (of the stripped text, as step_labels counts them)."""
    return solution.strip().split("\n")


def prefix_problems(records: list[dict], questions: list[Example], template: str) -> list[Example]:
    """One problem per proper prefix (first k steps, 1 <= k < steps) of each distinct wrong solution: the
    generation prompt plus that prefix, with the question's gold answer."""
    by_text = {q.question: q for q in questions}
    seen, problems = set(), []
    for r in records:
        q = by_text.get(r["question"])
        key = (r["question"], r["completion"])
        if r["correct"] or q is None or key in seen:
            continue
        seen.add(key)
        lines = steps(r["completion"])
        for k in range(1, len(lines)):
            prompt = format_prompt(template, q.question) + "\n".join(lines[:k]) + "\n"
            problems.append(Example(_prefix_id(key, k), prompt, "", q.answer, q.domain))
    return problems


def _prefix_id(key: tuple[str, str], k: int) -> str:
    return f"{hashlib.sha256(repr(key).encode()).hexdigest()[:16]}/{k}"


def first_wrong_steps(
    records: list[dict],
    questions: list[Example],
    *,
    sampler: Sampler,
    template: str,
    params: SamplingParams,
    out_dir: str | Path,
    grading: Grading,
    source: str,
) -> dict[tuple[str, str], int]:
    """(question, completion) of each wrong solution -> the index of its first wrong step."""
    problems = prefix_problems(records, questions, template)
    rollouts = sample_records(
        sampler, problems, template="{question}", params=params, out_dir=out_dir, grading=grading, source=source
    )
    reachable = {r["id"] for r in rollouts if r["correct"]}
    asked = {q.question for q in questions}
    first: dict[tuple[str, str], int] = {}
    for r in records:
        key = (r["question"], r["completion"])
        if r["correct"] or key in first or r["question"] not in asked:
            continue
        n = len(steps(r["completion"]))
        first[key] = next((k - 1 for k in range(1, n) if _prefix_id(key, k) not in reachable), n - 1)
    return first
