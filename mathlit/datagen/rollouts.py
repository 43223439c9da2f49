"""Process labels by rollouts (Math-Shepherd, Wang et al. 2024): where did a wrong solution go wrong?

A wrong solution's steps are its non-blank lines. From the prompt plus its first k steps the generator
completes the solution `verifier.rollouts` times; the prefix can still reach the gold answer when any
completion does (the paper's hard estimate). The first step whose prefix cannot is the first wrong step: it
and every later step are labelled incorrect, the earlier ones correct (mathlit.data.verifier.step_labels).
When every proper prefix can still reach the answer, the last step is the wrong one. This needs no calculator
annotations, so it labels MATH-style solutions too, as far as they are written in lines: a one-line solution
has one step, and its label stays its outcome.

The rollouts are sampled like any other samples (mathlit.sampling.records: sharded, resumable, pinned to the
generator's weights) in <out_dir>/samples.jsonl, one "problem" per (solution, prefix). Rollouts of other
weights (a rerun after the generator changed) are removed first: their wrong solutions are not these.
"""

import hashlib
import logging
import shutil
from pathlib import Path

from mathlit.data.formats import Example
from mathlit.data.tokenize import format_prompt
from mathlit.data.verifier import step_starts
from mathlit.errors import ConfigError
from mathlit.sampling.policy import Policy
from mathlit.sampling.records import stored_source

log = logging.getLogger(__name__)


def check_process_labels(v) -> None:
    """verifier.process_labels=rollouts with the settings it needs, refused before any training starts."""
    if v.process_labels != "rollouts":
        return
    if v.objective != "process" or v.loss != "pointwise":
        raise ConfigError(
            "verifier.process_labels=rollouts labels the steps of verifier.objective=process, which trains "
            f"pointwise (got objective={v.objective}, loss={v.loss})"
        )
    if v.rollouts < 1:
        raise ConfigError(f"verifier.rollouts={v.rollouts}: at least 1 completion per step prefix")


def wrong_solutions(records: list[dict], questions: list[Example]):
    """Each distinct wrong solution of a known question, once: ((question, completion), its question, its
    stripped text, where its steps start)."""
    by_text = {q.question: q for q in questions}
    seen = set()
    for r in records:
        q = by_text.get(r["question"])
        key = (r["question"], r["completion"])
        if r["correct"] or q is None or key in seen:
            continue
        seen.add(key)
        yield key, q, r["completion"].strip(), step_starts(r["completion"])


def prefix_problems(records: list[dict], questions: list[Example], template: str) -> list[Example]:
    """One problem per proper prefix (first k steps, 1 <= k < steps) of each distinct wrong solution: the
    generation prompt plus that prefix, with the question's gold answer."""
    return [
        Example(_prefix_id(key, k), format_prompt(template, q.question) + text[: starts[k]], "", q.answer, q.domain)
        for key, q, text, starts in wrong_solutions(records, questions)
        for k in range(1, len(starts))
    ]


def _prefix_id(key: tuple[str, str], k: int) -> str:
    return f"{hashlib.sha256(repr(key).encode()).hexdigest()[:16]}/{k}"


def first_wrong_steps(
    records: list[dict],
    questions: list[Example],
    generator: Policy,
    *,
    template: str,
    out_dir: str | Path,
    together: bool = False,
) -> dict[tuple[str, str], int]:
    """(question, completion) of each wrong solution -> the index of its first wrong step, from the
    `generator`'s rollouts of its prefixes (the generation prompt `template` plus the prefix); `together`: every
    rank of the run calls this and samples its share (Policy.sample)."""
    ranks = generator.ranks(together)
    if ranks.rank == 0 and stored_source(out_dir) not in (None, generator.digest):
        log.warning("%s: rollouts of other weights: removed", out_dir)
        shutil.rmtree(out_dir)
    ranks.wait()  # no rank reads the folder while rank 0 may be removing it
    problems = prefix_problems(records, questions, template)
    rollouts = generator.sample(problems, out_dir, "rollouts", template="{question}", together=together)
    reachable = {r["id"] for r in rollouts if r["correct"]}
    first: dict[tuple[str, str], int] = {}
    for key, _, _, starts in wrong_solutions(records, questions):
        n = len(starts)
        first[key] = next((k - 1 for k in range(1, n) if _prefix_id(key, k) not in reachable), max(n - 1, 0))
    return first
