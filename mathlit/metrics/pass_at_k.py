"""Metrics over sample records: pure functions, no model, no I/O.

A record is one completion of one problem (see mathlit.sampling.records): it has `id`,
`sample_idx`, `answer`, `correct`, `domain`, `meta`. With c correct of n samples of a problem:
- pass@k (unbiased, Chen et al. 2021): 1 - C(n-c, k) / C(n, k); Pass@N is pass@k at k = n.
- PassRatio@N (Xwin-Math): c / n, averaged over problems (stability; ~pass@1 with less variance).
- maj@k: the most frequent answer of k samples, answers grouped by equivalence; a tie goes to the
  answer seen first (as in the RFT paper). Averaged over the n // k disjoint runs of k samples.
"""

from collections import defaultdict
from collections.abc import Callable, Iterable
from fractions import Fraction

from mathlit.answers import is_equiv
from mathlit.answers.extract import gsm8k_number
from mathlit.answers.normalize import normalize
from mathlit.metrics.intervals import mean_intervals


def by_problem(records: Iterable[dict]) -> dict[str, list[dict]]:
    """Records grouped per problem id, each group in sample order."""
    groups: dict[str, list[dict]] = defaultdict(list)
    for r in records:
        groups[r["id"]].append(r)
    return {pid: sorted(rs, key=lambda r: r["sample_idx"]) for pid, rs in groups.items()}


def pass_at_k(n: int, c: int, k: int) -> float:
    if k > n:
        raise ValueError(f"pass@{k} needs at least {k} samples, got {n}")
    if n - c < k:
        return 1.0
    p_all_wrong = 1.0
    for i in range(n - c + 1, n + 1):  # C(n-c, k) / C(n, k) as a product, stable for large n
        p_all_wrong *= 1.0 - k / i
    return 1.0 - p_all_wrong


def answer_key(answer: str, domain: str) -> str | Fraction:
    """A cheap canonical key; answers with equal keys are equal (the converse needs is_equiv)."""
    if domain == "gsm8k":
        number = gsm8k_number(answer)
        return number if number is not None else answer.strip()
    return normalize(answer)


def cluster_answers(records: list[dict]) -> list[list[dict]]:
    """Records with an answer, grouped by equivalent answers, clusters in order of first appearance."""
    clusters: list[list[dict]] = []
    by_key: dict = {}
    for r in records:
        if r.get("answer") is None:
            continue
        key = answer_key(r["answer"], r["domain"])
        if key not in by_key:
            by_key[key] = next((c for c in clusters if is_equiv(c[0]["answer"], r["answer"], r["domain"])), None)
            if by_key[key] is None:
                by_key[key] = []
                clusters.append(by_key[key])
        by_key[key].append(r)
    return clusters


def majority(records: list[dict]) -> list[dict] | None:
    """The largest cluster; among equals, the one whose answer appeared first."""
    clusters = cluster_answers(records)
    return max(clusters, key=len) if clusters else None  # max keeps the first of equal sizes


def mean_over_runs(samples: list[dict], k: int, score: Callable[[list[dict]], float]) -> float:
    runs = [samples[i : i + k] for i in range(0, len(samples) - k + 1, k)]
    return sum(score(run) for run in runs) / len(runs)


Chooser = Callable[[list[dict]], dict | list[dict] | None]  # a run of samples -> the chosen sample or cluster


def chose_correct(choice: dict | list[dict] | None) -> float:
    """1.0 when the chosen sample (or the first of the chosen cluster) is correct; no choice is wrong."""
    if choice is None:
        return 0.0
    return float((choice[0] if isinstance(choice, list) else choice)["correct"])


def powers_of_two(n: int) -> list[int]:
    ks, k = [], 1
    while k <= n:
        ks.append(k)
        k *= 2
    return ks if ks[-1] == n else ks + [n]


def summarize(records: list[dict], choosers: dict[str, Chooser] | None = None) -> dict:
    """pass@k and maj@k for k = 1, 2, 4, ..., N and PassRatio@N, averaged over problems, with intervals;
    `choosers` (name -> a choice among a run of samples) add `name@k`: how often the choice of each run of k
    samples is correct, averaged over the N // k disjoint runs like maj@k."""
    groups = by_problem(records)
    if not groups:
        return {"problems": 0}
    n = min(len(g) for g in groups.values())
    ks = powers_of_two(n)
    choosers = {"maj": majority} | (choosers or {})
    per_problem: dict[str, list[float]] = defaultdict(list)
    for samples in groups.values():
        samples = samples[:n]
        c = sum(bool(r["correct"]) for r in samples)
        per_problem["pass_ratio"].append(c / n)
        for k in ks:
            per_problem[f"pass@{k}"].append(pass_at_k(n, c, k))
            for name, choose in choosers.items():
                accuracy = mean_over_runs(samples, k, lambda run, choose=choose: chose_correct(choose(run)))
                per_problem[f"{name}@{k}"].append(accuracy)
    return problem_means(per_problem) | {"n": n}


def problem_means(per_problem: dict[str, list[float]]) -> dict:
    """Each metric's mean over problems, and under "ci95" its bootstrap interval over problems."""
    names = sorted(per_problem)
    problems = len(per_problem[names[0]])
    means = {name: sum(per_problem[name]) / problems for name in names}
    return {"problems": problems, **means, "ci95": mean_intervals({name: per_problem[name] for name in names})}


def summarize_by(records: list[dict], field: str) -> dict[str, dict]:
    """The same metrics per value of meta[field] (MATH level or subject)."""
    parts: dict[str, list[dict]] = defaultdict(list)
    for r in records:
        parts[str((r.get("meta") or {}).get(field))].append(r)
    return {value: summarize(rs) for value, rs in sorted(parts.items())} if len(parts) > 1 else {}
