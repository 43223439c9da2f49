"""Greedy accuracy of a model on examples: the check every training task ends with."""

from pathlib import Path

from omegaconf import DictConfig
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from mathlit.data.formats import Example
from mathlit.sampling.base import SamplingParams
from mathlit.sampling.hf import HFSampler
from mathlit.sampling.records import sample_records


def greedy_accuracy(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    examples: list[Example],
    cfg: DictConfig,
    out_dir: str | Path,
    source: str,
) -> dict:
    """maj1@1: one greedy completion per example; records go to out_dir/samples.jsonl."""
    params = SamplingParams(
        n=1, temperature=0.0, max_new_tokens=cfg.sampler.max_new_tokens, stop=tuple(cfg.sampler.stop)
    )
    records = sample_records(
        HFSampler(model, tokenizer, cfg.sampler.batch_size),
        examples,
        template=cfg.data.prompt_template,
        params=params,
        out_dir=out_dir,
        source=source,
    )
    correct = sum(r["correct"] for r in records)
    return {"greedy_accuracy": correct / max(1, len(records)), "correct": correct, "problems": len(records)}


def sample_test(
    cfg: DictConfig,
    tokenizer: PreTrainedTokenizerBase,
    model_dir: str | Path,
    examples: list[Example],
    out_dir: str | Path,
    n: int,
    temperature: float,
) -> list[dict]:
    """n completions per test example from the model saved in `model_dir`, with the configured sampler."""
    from mathlit.sampling import LazySampler, make_sampler

    sampler = LazySampler(lambda: make_sampler(cfg.sampler, tokenizer, model_dir=model_dir, seed=cfg.seed))
    params = SamplingParams(
        n=n,
        temperature=temperature,
        top_p=cfg.eval.top_p,
        seed=cfg.seed,
        max_new_tokens=cfg.sampler.max_new_tokens,
        stop=tuple(cfg.sampler.stop),
    )
    records = sample_records(
        sampler,
        examples,
        template=cfg.data.prompt_template,
        params=params,
        out_dir=out_dir,
        source=str(Path(model_dir).resolve()),
    )
    sampler.close()
    return records


def rerank_report(
    records: list[dict], verifier_dir: str | Path, cfg: DictConfig, out_dir: str | Path, greedy: float | None = None
) -> dict:
    """Score the samples with a verifier; maj@k, best-of-k, weighted vote, cluster re-ranking and pass@k
    side by side for k = 1, 2, 4, ..., N: rerank.json, rerank.png and the returned summary."""
    from mathlit.io import write_json, write_jsonl
    from mathlit.metrics.plots import curves_from_summary, plot_vs_k
    from mathlit.metrics.rerank import rerank_summary
    from mathlit.modules.verifier import Scorer

    out_dir = Path(out_dir)
    scores = Scorer(verifier_dir).score([(r["question"], r["completion"]) for r in records])
    scored = [r | {"score": s} for r, s in zip(records, scores, strict=True)]
    write_jsonl(
        out_dir / "scored.jsonl", [{"id": r["id"], "sample_idx": r["sample_idx"], "score": r["score"]} for r in scored]
    )
    summary = rerank_summary(scored, cfg.eval.rerank_top_k, cfg.eval.rerank_aggregate)
    summary["verifier"] = str(verifier_dir)
    if greedy is not None:
        summary["greedy"] = greedy
    write_json(out_dir / "rerank.json", summary)
    curves = curves_from_summary(summary, ("pass", "maj", "best_of", "weighted", "cluster"))
    plot_vs_k(
        curves,
        out_dir / "rerank.png",
        f"re-ranking, N={summary['n']}",
        {"greedy": greedy} if greedy is not None else None,
    )
    return summary


def rerank_table(summary: dict) -> str:
    names = ("maj", "best_of", "weighted", "cluster", "pass")
    ks = sorted({int(key.split("@")[1]) for key in summary if "@" in key})
    lines = [f"  {'k':>4}" + "".join(f"{name:>10}" for name in names)]
    for k in ks:
        lines.append(f"  {k:>4}" + "".join(f"{100 * summary[f'{name}@{k}']:>9.1f}%" for name in names))
    if "greedy" in summary:
        lines.append(f"  greedy: {100 * summary['greedy']:.1f}%")
    return "\n".join(lines)
