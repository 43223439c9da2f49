"""Accuracy against the number of reasoning steps of a problem's reference solution (Xwin-Math): per-problem
accuracy grouped by steps, and the single-step accuracy p of the power law acc = p^s fitted to it.

A step is one calculator annotation <<...>> of the reference solution (GSM8K and data=arith annotate every
calculation); a solution without annotations (MATH) counts its non-empty lines before the final-answer line.
"""

from mathlit.metrics.intervals import mean_interval
from mathlit.metrics.pass_at_k import by_problem
from mathlit.metrics.scaling import fit_power_law


def reasoning_steps(solution: str) -> int:
    if annotations := solution.count("<<"):
        return annotations
    lines = [line for line in solution.splitlines() if line.strip()]
    return sum(not line.lstrip().startswith("####") for line in lines)


def accuracy_by_steps(records: list[dict], steps: dict[str, int]) -> dict | None:
    """Per-problem accuracy (the share of its samples that are correct) by the reference solution's steps,
    with a bootstrap interval per step count, and the fitted p; None without problems of known steps >= 1."""
    rows = [
        (steps[pid], sum(bool(r["correct"]) for r in samples), len(samples))
        for pid, samples in by_problem(records).items()
        if steps.get(pid, 0) >= 1
    ]
    if not rows:
        return None
    fit = fit_power_law([c for _, c, _ in rows], [n for _, _, n in rows], [s for s, _, _ in rows])
    groups: dict[int, list[float]] = {}
    for s, c, n in rows:
        groups.setdefault(s, []).append(c / n)
    return {
        "p": fit.p,
        "p_ci95": fit.p_ci,
        "problems": fit.problems,
        "by_steps": {
            str(s): {
                "problems": len(groups[s]),
                "accuracy": sum(groups[s]) / len(groups[s]),
                "ci95": mean_interval(groups[s]),
                "fitted": fit.p**s,
            }
            for s in sorted(groups)
        },
    }
