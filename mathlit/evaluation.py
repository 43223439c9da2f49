"""Evaluating a model on test problems: greedy accuracy, N samples per problem (pass@k, maj@k, PassRatio@N)
and, given a verifier, re-ranking of those samples. Every task that reports a model's accuracy goes here.

One sampler serves every pass over the same weights (greedy, sampled, and a verifier's training candidates
before them), so a vLLM engine starts once per model:

    sampler = sampler_for(cfg, tokenizer, folder=hf_dir)        # or model=in_memory_model
    metrics = evaluate(cfg, sampler, test, out_dir, source=..., n=cfg.eval.n, verifier=verifier_dir)
    sampler.close()
"""

from collections import Counter
from pathlib import Path

from omegaconf import DictConfig
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from mathlit.answers.crosscheck import crosscheck_metrics
from mathlit.answers.grading import Grading
from mathlit.data.formats import Example
from mathlit.errors import ConfigError
from mathlit.io import write_json, write_jsonl
from mathlit.metrics.error_types import count_error_types
from mathlit.metrics.intervals import mean_interval
from mathlit.metrics.pass_at_k import summarize, summarize_by
from mathlit.metrics.plots import curves_from_summary, plot_power_law, plot_vs_k
from mathlit.metrics.steps import accuracy_by_steps, reasoning_steps
from mathlit.sampling import LazySampler, Sampler, SamplingParams, make_sampler
from mathlit.sampling.records import sample_records

RERANK_METHODS = ("maj", "best_of", "weighted", "cluster", "pass")
LIKELIHOOD = "likelihood"  # eval.rerank=likelihood: the generator's own likelihood scores the samples
CALCULATIONS = "calculations"  # eval.rerank=calculations: a calculator checks each sample's <<a op b = c>> steps
BUILT_IN_SCORERS = (LIKELIHOOD, CALCULATIONS)
# A sample whose calculations fail scores this, not 0: N of them sum below one passing sample (for N < 10,000),
# and when every sample fails the weighted vote is a plain majority vote, not the first answer seen.
FAILED_CALCULATION = 1e-4


def sampler_for(
    cfg: DictConfig,
    tokenizer: PreTrainedTokenizerBase,
    *,
    model: PreTrainedModel | None = None,
    folder: str | Path | None = None,
) -> LazySampler:
    """A model in memory samples with `transformers` generate; a saved folder with the configured backend
    (sampler.name). Nothing is loaded or started before the first generate."""
    if model is not None:
        from mathlit.sampling.hf import HFSampler

        return LazySampler(lambda: HFSampler(model, tokenizer, cfg.sampler.batch_size))
    if folder is None:
        raise ValueError("sampler_for needs a model or a folder")
    return LazySampler(lambda: make_sampler(cfg.sampler, tokenizer, model_dir=folder, seed=cfg.seed))


def sample_solutions(
    cfg: DictConfig,
    sampler: Sampler,
    examples: list[Example],
    out_dir: str | Path,
    *,
    n: int,
    temperature: float,
    source: str,
    top_p: float | None = None,
    max_new_tokens: int | None = None,
    part: tuple[int, int] = (0, 1),
) -> list[dict] | None:
    """n graded completions per example (test problems, or a verifier's training questions) in out_dir;
    top_p and max_new_tokens default to eval.top_p and sampler.max_new_tokens. part: see `sample_records`."""
    params = SamplingParams(
        n=n,
        temperature=temperature,
        top_p=cfg.eval.top_p if top_p is None else top_p,
        seed=cfg.seed,
        max_new_tokens=max_new_tokens or cfg.sampler.max_new_tokens,
        stop=tuple(cfg.sampler.stop),
    )
    template = cfg.data.prompt_template
    return sample_records(
        sampler,
        examples,
        template=template,
        params=params,
        out_dir=out_dir,
        grading=Grading.from_config(cfg),
        source=source,
        part=part,
    )


def evaluate(
    cfg: DictConfig,
    sampler: Sampler,
    examples: list[Example],
    out_dir: str | Path,
    *,
    source: str,
    greedy: bool = True,
    n: int = 0,
    verifier: str | Path | None = None,
    part: tuple[int, int] = (0, 1),
    generator: str | Path | None = None,
) -> dict | None:
    """Greedy accuracy (maj1@1, out_dir/greedy/), then n samples per problem at eval.temperature
    (out_dir/sampled/, pass_at_k.png) re-ranked by `verifier` when one is given (see `report_samples`); with
    bootstrap intervals over problems, error types of the wrong samples, and accuracy by reasoning steps.
    `source` names the weights the sampler holds, so that stored samples are reused only for them;
    `generator`, their saved folder, scores the likelihood baseline beside a verifier.
    part=(i, n): sample this job's share of both passes; None until every job's shards are on disk."""
    out_dir = Path(out_dir)
    kwargs = {"source": source, "part": part}
    records = samples = []
    if greedy:
        records = sample_solutions(
            cfg, sampler, examples, out_dir / "greedy", n=1, temperature=0.0, top_p=1.0, **kwargs
        )
    if n > 0:
        samples = sample_solutions(
            cfg, sampler, examples, out_dir / "sampled", n=n, temperature=cfg.eval.temperature, **kwargs
        )
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
    metrics |= report_samples(cfg, samples, out_dir, metrics.get("greedy_accuracy"), verifier, generator)
    if records:
        metrics["error_types"] = {"greedy": count_error_types(records)} | metrics.get("error_types", {})
    steps = {e.id: reasoning_steps(e.solution) for e in examples}
    if by_steps := steps_report(samples or records, steps, out_dir, f"{cfg.data.name}: accuracy by reasoning steps"):
        metrics["reasoning_steps"] = by_steps | {"accuracy_of": "sampled" if samples else "greedy"}
    return metrics


def steps_report(records: list[dict], steps: dict[str, int], out_dir: Path, title: str) -> dict | None:
    """Per-problem accuracy by the reference solution's reasoning steps, the fitted acc = p^s, and steps.png."""
    by_steps = accuracy_by_steps(records, steps)
    if by_steps is not None:
        plot_power_law(by_steps, out_dir / "steps.png", title)
    return by_steps


def answer_sources(records: list[dict]) -> dict[str, int]:
    """How many answers each extraction step found (boxed, hashes, phrase, bold, last_number; none: no answer;
    ambiguous: refused; error: grading failed, see the record's answer_error)."""
    return dict(sorted(Counter(r.get("answer_source", "unknown") for r in records).items()))


def report_samples(
    cfg: DictConfig,
    samples: list[dict],
    out_dir: str | Path,
    greedy: float | None = None,
    verifier: str | Path | None = None,
    generator: str | Path | None = None,
) -> dict:
    """pass@k, maj@k and PassRatio@N of sampled records (per level and subject where the data has them), the
    error types of the wrong ones and pass_at_k.png; with a verifier also the re-ranking of `rerank_report`, and
    beside a trained verifier its baselines: the re-ranking by the calculator's check and by the likelihood of
    `generator` (the model that wrote the samples)."""
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
    if verifier is not None:
        if not samples:
            raise ConfigError("re-ranking needs sampled solutions: set eval.n > 0 (or eval.samples_path)")
        metrics["rerank"] = rerank_report(samples, verifier, cfg, out_dir, greedy, generator)
        if str(verifier) not in BUILT_IN_SCORERS:  # the baselines a trained verifier must beat, on its samples
            metrics["rerank_calculations"] = rerank_report(samples, CALCULATIONS, cfg, out_dir / CALCULATIONS, greedy)
            if generator is not None:
                metrics["rerank_likelihood"] = rerank_report(
                    samples, LIKELIHOOD, cfg, out_dir / LIKELIHOOD, greedy, generator
                )
    return metrics


def score_samples(records: list[dict], verifier: str | Path, generator: str | Path | None = None) -> list[float]:
    """Each record's score: p(correct) by a saved verifier; with verifier="likelihood" the geometric-mean
    token probability of its completion under `generator`; with verifier="calculations" 1 when every calculator
    annotation holds (a solution without annotations passes), else FAILED_CALCULATION."""
    if str(verifier) == CALCULATIONS:
        from mathlit.datagen.filters import calculations_hold

        return [1.0 if calculations_hold(r["completion"]) else FAILED_CALCULATION for r in records]
    if str(verifier) == LIKELIHOOD:
        from mathlit.models.likelihood import LikelihoodScorer

        if generator is None:
            raise ConfigError("eval.rerank=likelihood needs the model that wrote the samples: set model.path")
        return LikelihoodScorer(generator).score([(r["prompt"], r["completion"]) for r in records])
    from mathlit.modules.verifier import Scorer

    return Scorer(verifier).score([(r["question"], r["completion"]) for r in records])


def rerank_report(
    records: list[dict],
    verifier_dir: str | Path,
    cfg: DictConfig,
    out_dir: str | Path,
    greedy: float | None = None,
    generator: str | Path | None = None,
) -> dict:
    """Score the samples with a verifier (or the generator's likelihood, see `score_samples`); maj@k,
    best-of-k, weighted vote, cluster re-ranking and pass@k side by side for k = 1, 2, 4, ..., N:
    scored.jsonl, rerank.json, rerank.png and the returned summary."""
    from mathlit.metrics.rerank import rerank_summary

    out_dir = Path(out_dir)
    scores = score_samples(records, verifier_dir, generator)
    scored = [r | {"score": s} for r, s in zip(records, scores, strict=True)]
    write_jsonl(
        out_dir / "scored.jsonl", [{"id": r["id"], "sample_idx": r["sample_idx"], "score": r["score"]} for r in scored]
    )
    summary = rerank_summary(scored, cfg.eval.rerank_top_k, cfg.eval.rerank_aggregate)
    summary["verifier"] = str(verifier_dir)
    if greedy is not None:
        summary["greedy"] = greedy
    write_json(out_dir / "rerank.json", summary)
    plot_vs_k(
        curves_from_summary(summary, RERANK_METHODS),
        out_dir / "rerank.png",
        f"re-ranking by {Path(verifier_dir).name}, N={summary['n']}",
        {"greedy": greedy} if greedy is not None else None,
        summary["ci95"],
    )
    return summary


def table(metrics: dict) -> str:
    """The headline numbers of `evaluate`'s metrics as aligned text: greedy, the sampled metrics, and the
    re-ranking methods side by side per k."""
    rows = [(name, value) for name, value in metrics.get("sampled", {}).items() if isinstance(value, float)]
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
