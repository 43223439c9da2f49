"""Evaluating a model on test problems: greedy accuracy, N samples per problem (pass@k, maj@k, PassRatio@N)
and, given a re-ranker (mathlit.rerankers), re-ranking of those samples. Every task that reports a model's
accuracy goes here; the samples come from the model's Policy (one sampler for every pass over the same weights):

    policy = Policy(cfg, tokenizer, folder=hf_dir)
    sample_test(cfg, policy, test, out_dir, n=cfg.eval.n)       # on every rank of the run: each samples its share
    metrics = evaluate(cfg, policy, test, out_dir, n=cfg.eval.n, rerank=TrainedVerifier(verifier_dir))  # rank 0
    policy.close()
"""

from collections import Counter
from dataclasses import replace
from pathlib import Path

from omegaconf import DictConfig

from mathlit.answers.crosscheck import crosscheck_metrics
from mathlit.data.formats import Example
from mathlit.errors import ConfigError
from mathlit.io import write_json, write_jsonl
from mathlit.metrics.error_types import count_error_types
from mathlit.metrics.intervals import mean_interval
from mathlit.metrics.pass_at_k import summarize, summarize_by
from mathlit.metrics.plots import curves_from_summary, plot_power_law, plot_vs_k
from mathlit.metrics.steps import accuracy_by_steps, reasoning_steps
from mathlit.rerankers import Reranker, baselines
from mathlit.sampling.policy import Policy, sampling_params

RERANK_METHODS = ("maj", "best_of", "weighted", "cluster", "pass")


def evaluate(
    cfg: DictConfig,
    policy: Policy,
    examples: list[Example],
    out_dir: str | Path,
    *,
    greedy: bool = True,
    n: int = 0,
    rerank: Reranker | None = None,
    part: tuple[int, int] = (0, 1),
) -> dict | None:
    """Greedy accuracy (maj1@1, out_dir/greedy/), then n samples per problem at eval.temperature
    (out_dir/sampled/, pass_at_k.png) re-ranked by `rerank` when one is given (see `report_samples`); with
    bootstrap intervals over problems, error types of the wrong samples, and accuracy by reasoning steps.
    part=(i, n): sample this job's share of both passes; None until every job's shards are on disk."""
    out_dir = Path(out_dir)
    passes = sample_test(cfg, policy, examples, out_dir, greedy=greedy, n=n, part=part, together=False)
    records, samples = passes.get("greedy", []), passes.get("sampled", [])
    if records is None or samples is None:
        return None
    metrics: dict = {}
    if greedy:
        correct = sum(r["correct"] for r in records)
        metrics |= {"greedy_accuracy": correct / max(1, len(records)), "correct": correct, "problems": len(records)}
        metrics.setdefault("answer_sources", {})["greedy"] = answer_sources(records)
        if records:
            metrics["greedy_ci95"] = mean_interval([float(r["correct"]) for r in records])
    if samples:
        metrics.setdefault("answer_sources", {})["sampled"] = answer_sources(samples)
    metrics |= crosscheck_metrics({"greedy": records, "sampled": samples}, out_dir)  # answers.crosscheck=true
    metrics |= report_samples(cfg, samples, out_dir, metrics.get("greedy_accuracy"), rerank, policy.folder)
    if records:
        metrics["error_types"] = {"greedy": count_error_types(records)} | metrics.get("error_types", {})
    steps = {e.id: reasoning_steps(e.solution) for e in examples}
    if by_steps := steps_report(samples or records, steps, out_dir, f"{cfg.data.name}: accuracy by reasoning steps"):
        metrics["reasoning_steps"] = by_steps | {"accuracy_of": "sampled" if samples else "greedy"}
    return metrics


def sample_test(
    cfg: DictConfig,
    policy: Policy,
    examples: list[Example],
    out_dir: str | Path,
    *,
    greedy: bool = True,
    n: int = 0,
    part: tuple[int, int] = (0, 1),
    together: bool = True,
) -> dict[str, list[dict] | None]:
    """The passes `evaluate` scores, by folder: greedy/ (one greedy completion per problem) and sampled/ (n per
    problem at eval.temperature), each pass's records (None until every job's shards are on disk). `together`: every
    rank of the run calls this at once and samples its share of the shards (Policy.sample); a task calls it so on
    every rank in its `train`, and `evaluate` on global rank 0 then finds every shard on disk and only scores. Each
    rank's Policy must name the same weights (a Policy built with `folder=` names them by the folder's digest)."""
    passes = {"greedy": sampling_params(cfg, "greedy")} if greedy else {}
    if n > 0:
        passes["sampled"] = replace(sampling_params(cfg, "eval"), n=n)
    return {
        name: policy.sample(examples, Path(out_dir) / name, params, part=part, together=together)
        for name, params in passes.items()
    }


def steps_report(records: list[dict], steps: dict[str, int], out_dir: Path, title: str) -> dict | None:
    """Per-problem accuracy by the reference solution's reasoning steps, the fitted acc = p^s, and steps.png."""
    by_steps = accuracy_by_steps(records, steps)
    if by_steps is not None:
        plot_power_law(by_steps, out_dir / "steps.png", title)
    return by_steps


def answer_sources(records: list[dict]) -> dict[str, int]:
    """How many answers each extraction step found (boxed, hashes, phrase, bold, last_span, last_number; none: no
    answer; ambiguous: refused; error: grading failed, see the record's answer_error)."""
    return dict(sorted(Counter(r.get("answer_source", "unknown") for r in records).items()))


def report_samples(
    cfg: DictConfig,
    samples: list[dict],
    out_dir: str | Path,
    greedy: float | None = None,
    rerank: Reranker | None = None,
    generator: str | Path | None = None,
) -> dict:
    """pass@k, maj@k and PassRatio@N of sampled records (per level and subject where the data has them), the
    error types of the wrong ones and pass_at_k.png; with a re-ranker also the re-ranking of `rerank_report`,
    and beside a trained verifier its baselines (mathlit.rerankers.baselines; `generator` is the saved model
    that wrote the samples)."""
    out_dir = Path(out_dir)
    metrics: dict = {}
    if samples:
        sampled = metrics["sampled"] = summarize(samples)
        metrics["error_types"] = {"sampled": count_error_types(samples)}
        for field in ("level", "subject"):
            if table := summarize_by(samples, field):
                metrics[f"by_{field}"] = table
        flat = {f"PassRatio@{sampled['n']}": sampled["pass_ratio"]} | ({"greedy": greedy} if greedy is not None else {})
        title = f"{cfg.data.name}: {sampled['problems']} problems, N={sampled['n']}"
        curves = curves_from_summary(sampled, ("pass", "maj"))
        plot_vs_k(curves, out_dir / "pass_at_k.png", title, flat, sampled["ci95"])
    if rerank is not None:
        if not samples:
            raise ConfigError("re-ranking needs sampled solutions: set eval.n > 0 (or eval.samples_path)")
        metrics["rerank"] = rerank_report(samples, rerank, cfg, out_dir, greedy)
        for baseline in baselines(rerank, generator):  # what a trained verifier must beat, on its samples
            key = f"rerank_{baseline.name}"
            metrics[key] = rerank_report(samples, baseline, cfg, out_dir / baseline.name, greedy)
    return metrics


def rerank_report(
    records: list[dict], rerank: Reranker, cfg: DictConfig, out_dir: str | Path, greedy: float | None = None
) -> dict:
    """Score the samples with a re-ranker; maj@k, best-of-k, weighted vote, cluster re-ranking and pass@k
    side by side for k = 1, 2, 4, ..., N: scored.jsonl, rerank.json, rerank.png and the returned summary."""
    from mathlit.metrics.rerank import rerank_summary

    out_dir = Path(out_dir)
    scored = [r | {"score": s} for r, s in zip(records, rerank.score(records), strict=True)]
    write_jsonl(
        out_dir / "scored.jsonl", [{"id": r["id"], "sample_idx": r["sample_idx"], "score": r["score"]} for r in scored]
    )
    summary = rerank_summary(scored, cfg.eval.rerank_top_k, cfg.eval.rerank_aggregate)
    summary["verifier"] = rerank.name
    if greedy is not None:
        summary["greedy"] = greedy
    write_json(out_dir / "rerank.json", summary)
    plot_vs_k(
        curves_from_summary(summary, RERANK_METHODS),
        out_dir / "rerank.png",
        f"re-ranking by {Path(rerank.name).name}, N={summary['n']}",
        {"greedy": greedy} if greedy is not None else None,
        summary["ci95"],
    )
    return summary


def _by_k(name: str) -> tuple[str, int]:
    """pass@k, maj@k, ... ordered by name, then by k as a number; names without @k after them."""
    prefix, _, k = name.partition("@")
    return (prefix, int(k)) if k.isdigit() else (prefix, 1 << 62)


def table(metrics: dict) -> str:
    """The headline numbers of `evaluate`'s metrics as aligned text: greedy, the sampled metrics, and the
    re-ranking methods side by side per k."""
    rows = [(name, value) for name, value in metrics.get("sampled", {}).items() if isinstance(value, float)]
    rows.sort(key=lambda row: _by_k(row[0]))  # maj@2 before maj@16 (metrics.json's keys are in text order)
    if "greedy_accuracy" in metrics:
        rows.insert(0, ("greedy (maj1@1)", metrics["greedy_accuracy"]))
    lines = [f"  {name:<16} {100 * value:6.2f}%" for name, value in rows]
    for key in ("rerank", "rerank_likelihood", "rerank_calculations"):
        if rerank := metrics.get(key):
            lines.append(f"  re-ranked by {rerank['verifier']}:")
            ks = sorted({int(name.split("@")[1]) for name in rerank if "@" in name})
            lines.append(f"  {'k':>4}" + "".join(f"{name:>10}" for name in RERANK_METHODS))
            for k in ks:
                lines.append(f"  {k:>4}" + "".join(f"{100 * rerank[f'{m}@{k}']:>9.1f}%" for m in RERANK_METHODS))
    return "\n".join(lines)
