"""Evaluation: greedy accuracy, then N samples per problem for pass@k, maj@k and PassRatio@N.

    python -m mathlit task=eval model.path=OUT/hf data=gsm8k eval.n=256 eval.temperature=0.7
    python -m mathlit task=eval eval.samples_path=OUT/sampled/samples.jsonl   # metrics only, no model
    python -m mathlit task=eval model.path=OUT/hf eval.n=16 eval.rerank=VERIFIER/hf   # + verifier re-ranking
    python -m mathlit task=eval model.path=OUT/hf eval.n=16 eval.rerank=likelihood    # by the model's likelihood

Writes greedy/samples.jsonl, sampled/samples.jsonl, metrics.json (overall, and per level and subject
for MATH) and pass_at_k.png; with eval.rerank also scored.jsonl, rerank.json and rerank.png (beside a
trained verifier, the same for the likelihood baseline under likelihood/). Samples are
stored in shards as they are made: a rerun in the same folder samples only what is missing, and a rerun
with everything on disk recomputes metrics without a model.
"""

from pathlib import Path

from omegaconf import DictConfig

from mathlit.data.splits import load_splits
from mathlit.errors import ConfigError
from mathlit.evaluation import LIKELIHOOD, evaluate, report_samples, sampler_for, table
from mathlit.io import parse_jsonl
from mathlit.models.build import load_tokenizer
from mathlit.tasks import Report


def train(cfg: DictConfig) -> None:
    """Nothing to train: the model is given."""


def report(cfg: DictConfig, trained: None) -> Report:
    run_dir = Path(cfg.run_dir)
    if cfg.eval.rerank not in (None, LIKELIHOOD) and not (Path(cfg.eval.rerank) / "config.json").exists():
        raise ConfigError(f"{cfg.eval.rerank}: not a saved model folder (set by eval.rerank)")
    if cfg.eval.samples_path:
        records, _ = parse_jsonl(cfg.eval.samples_path, lambda row, _: row, config_key="eval.samples_path")
        metrics = report_samples(cfg, records, run_dir, verifier=cfg.eval.rerank, generator=cfg.model.path)
    else:
        if cfg.model.path is None:
            raise ConfigError("task=eval needs model.path (a trained HF folder) or eval.samples_path")
        test = load_splits(cfg.data).test
        if cfg.eval.max_examples is not None:
            test = test[: cfg.eval.max_examples]
        if not test:
            raise ConfigError(f"data={cfg.data.name} has no test problems (data.test_path)")
        if cfg.eval.rerank and cfg.eval.n <= 0:
            raise ConfigError("eval.rerank needs sampled solutions: set eval.n > 0 (or eval.samples_path)")
        sampler = sampler_for(cfg, load_tokenizer(cfg.model), folder=cfg.model.path)
        source = str(Path(cfg.model.path).resolve())
        metrics = evaluate(
            cfg,
            sampler,
            test,
            run_dir,
            source=source,
            greedy=cfg.eval.greedy,
            n=cfg.eval.n,
            verifier=cfg.eval.rerank,
            generator=cfg.model.path,
        )
        sampler.close()
    objective = metrics.get("greedy_accuracy", metrics.get("sampled", {}).get("pass_ratio"))
    return Report(metrics, f"{cfg.data.name}\n{table(metrics)}", objective)
