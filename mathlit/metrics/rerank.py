"""Choosing one answer from N scored samples (Liu et al. 2023). Pure functions over records with a `score`.

- best-of-N: the single highest-scoring solution;
- weighted vote: answers grouped by equivalence, the group with the largest sum of scores;
- cluster re-ranking: keep the top-K groups by size, then the group with the best aggregate score
  (mean, max or sum of its members').
Ties go to the answer seen first; a sample without an answer never wins; no answer at all is wrong.
Each method at k is averaged over the N // k disjoint runs of k samples, like maj@k.
"""

from collections.abc import Callable

from mathlit.metrics.pass_at_k import cluster_answers, summarize

AGGREGATES: dict[str, Callable[[list[float]], float]] = {
    "mean": lambda xs: sum(xs) / len(xs),
    "max": max,
    "sum": sum,
}


def best_of(samples: list[dict]) -> dict | None:
    answered = [r for r in samples if r.get("answer") is not None]
    return max(answered, key=lambda r: r["score"]) if answered else None  # max keeps the first of equals


def weighted_vote(samples: list[dict]) -> list[dict] | None:
    clusters = cluster_answers(samples)
    return max(clusters, key=lambda c: sum(r["score"] for r in c)) if clusters else None


def cluster_rerank(samples: list[dict], top_k: int = 8, aggregate: str = "mean") -> list[dict] | None:
    if aggregate not in AGGREGATES:
        raise ValueError(f"aggregate must be one of {sorted(AGGREGATES)}, got {aggregate!r}")
    clusters = cluster_answers(samples)
    kept = sorted(clusters, key=len, reverse=True)[:top_k]  # sorted is stable: equal sizes keep first-seen order
    return max(kept, key=lambda c: AGGREGATES[aggregate]([r["score"] for r in c])) if kept else None


def rerank_summary(records: list[dict], top_k: int = 8, aggregate: str = "mean") -> dict:
    """pass@k, maj@k, best_of@k, weighted@k, cluster@k for k = 1, 2, 4, ..., N (and PassRatio@N), averaged
    over problems, with bootstrap intervals over problems under "ci95"."""
    return summarize(
        records,
        {
            "best_of": best_of,
            "weighted": weighted_vote,
            "cluster": lambda run: cluster_rerank(run, top_k, aggregate),
        },
    )
