"""Evaluation: greedy accuracy, then N samples per problem for pass@k, maj@k and PassRatio@N.

    python -m mathlit task=eval model.path=OUT/hf data=gsm8k eval.n=256 eval.temperature=0.7
    python -m mathlit task=eval eval.samples_path=OUT/sampled/samples.jsonl   # metrics only, no model
    python -m mathlit task=eval model.path=OUT/hf eval.n=16 eval.rerank=VERIFIER/hf   # + verifier re-ranking

Writes greedy/samples.jsonl, sampled/samples.jsonl, metrics.json (overall, and per level and subject
for MATH) and pass_at_k.png; with eval.rerank also scored.jsonl, rerank.json and rerank.png. Samples are
stored in shards as they are made: a rerun in the same folder samples only what is missing, and a rerun
with everything on disk recomputes metrics without a model.
"""

from pathlib import Path

from omegaconf import DictConfig

from mathlit.data.splits import load_splits
from mathlit.errors import ConfigError
from mathlit.evaluate import rerank_report, rerank_table
from mathlit.io import parse_jsonl, write_json
from mathlit.metrics.plots import curves_from_summary, plot_vs_k
from mathlit.metrics.sampling import summarize, summarize_by
from mathlit.models.build import load_tokenizer
from mathlit.sampling import LazySampler, SamplingParams, make_sampler
from mathlit.sampling.records import sample_records


def metrics_table(metrics: dict) -> str:
    """The headline numbers as aligned text."""
    rows = [(name, value) for name, value in metrics.get("sampled", {}).items() if isinstance(value, float)]
    if "greedy_accuracy" in metrics:
        rows.insert(0, ("greedy (maj1@1)", metrics["greedy_accuracy"]))
    return "\n".join(f"  {name:<16} {100 * value:6.2f}%" for name, value in rows)


def score(records: list[dict], greedy: list[dict] | None) -> dict:
    metrics: dict = {}
    if greedy:
        metrics["greedy_accuracy"] = sum(r["correct"] for r in greedy) / len(greedy)
    if records:
        metrics["sampled"] = summarize(records)
        for field in ("level", "subject"):
            if table := summarize_by(records, field):
                metrics[f"by_{field}"] = table
    return metrics


def run(cfg: DictConfig) -> float | None:
    run_dir = Path(cfg.run_dir)
    if cfg.eval.rerank and not (Path(cfg.eval.rerank) / "config.json").exists():
        raise ConfigError(f"{cfg.eval.rerank}: not a saved model folder (set by eval.rerank)")
    if cfg.eval.samples_path:
        records, _ = parse_jsonl(cfg.eval.samples_path, lambda row, _: row, config_key="eval.samples_path")
        metrics, greedy = score(records, None), None
    else:
        if cfg.model.path is None:
            raise ConfigError("task=eval needs model.path (a trained HF folder) or eval.samples_path")
        tokenizer = load_tokenizer(cfg.model)
        test = load_splits(cfg.data).test
        if cfg.eval.max_examples is not None:
            test = test[: cfg.eval.max_examples]
        if not test:
            raise ConfigError(f"data={cfg.data.name} has no test problems (data.test_path)")
        sampler = LazySampler(lambda: make_sampler(cfg.sampler, tokenizer, model_dir=cfg.model.path, seed=cfg.seed))
        common = {"template": cfg.data.prompt_template, "source": str(Path(cfg.model.path).resolve())}
        base = {"max_new_tokens": cfg.sampler.max_new_tokens, "stop": tuple(cfg.sampler.stop), "seed": cfg.seed}
        greedy, records = [], []
        if cfg.eval.greedy:
            greedy = sample_records(
                sampler, test, params=SamplingParams(n=1, temperature=0.0, **base), out_dir=run_dir / "greedy", **common
            )
        if cfg.eval.n > 0:
            params = SamplingParams(n=cfg.eval.n, temperature=cfg.eval.temperature, top_p=cfg.eval.top_p, **base)
            records = sample_records(sampler, test, params=params, out_dir=run_dir / "sampled", **common)
        sampler.close()
        metrics = score(records, greedy)
    if "sampled" in metrics:
        sampled = metrics["sampled"]
        flat = {f"PassRatio@{sampled['n']}": sampled["pass_ratio"]}
        if "greedy_accuracy" in metrics:
            flat["greedy"] = metrics["greedy_accuracy"]
        title = f"{cfg.data.name}: {sampled['problems']} problems, N={sampled['n']}"
        plot_vs_k(curves_from_summary(sampled, ("pass", "maj")), run_dir / "pass_at_k.png", title, flat)
    if cfg.eval.rerank:
        if not records:
            raise ConfigError("eval.rerank needs sampled solutions: set eval.n > 0 (or eval.samples_path)")
        metrics["rerank"] = rerank_report(records, cfg.eval.rerank, cfg, run_dir, metrics.get("greedy_accuracy"))
    write_json(run_dir / "metrics.json", metrics)
    print(f"mathlit eval ({cfg.data.name}):\n{metrics_table(metrics)}\noutputs in {run_dir}", flush=True)
    if "rerank" in metrics:
        print(f"re-ranked with {cfg.eval.rerank}:\n{rerank_table(metrics['rerank'])}", flush=True)
    return metrics.get("greedy_accuracy", metrics.get("sampled", {}).get("pass_ratio"))
