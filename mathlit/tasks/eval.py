"""Evaluation: greedy accuracy, then N samples per problem for pass@k, maj@k and PassRatio@N.

    python -m mathlit task=eval model.path=OUT/hf data=gsm8k eval.n=256 eval.temperature=0.7
    python -m mathlit task=eval eval.samples_path=OUT/sampled/samples.jsonl   # metrics only, no model
    python -m mathlit task=eval model.path=OUT/hf eval.n=16 eval.rerank=VERIFIER/hf   # + verifier re-ranking
    python -m mathlit task=eval model.path=OUT/hf eval.n=16 eval.rerank=likelihood    # by the model's likelihood
    python -m mathlit task=eval eval.samples_path=S.jsonl eval.rerank=calculations   # by a calculator's check
    MATHLIT_RUN_DIR=EVAL sbatch --array=0-1 launchers/slurm.sbatch task=eval model.path=OUT/hf \
        'eval.shard=${oc.env:SLURM_ARRAY_TASK_ID}/2'   # then the same without eval.shard merges

Writes greedy/samples.jsonl, sampled/samples.jsonl, metrics.json (overall, and per level and subject
for MATH; bootstrap intervals over problems; error types of the wrong samples; accuracy by the reference
solution's reasoning steps with the fitted acc = p^s), pass_at_k.png and steps.png; with eval.rerank also
scored.jsonl, rerank.json and rerank.png (beside a trained verifier, the same for its baselines under
likelihood/ and calculations/). Samples are
stored in shards as they are made: a rerun in the same folder samples only what is missing, and a rerun
with everything on disk recomputes metrics without a model. eval.shard=i/n samples only shards i, i+n, ...
into the same folder (a job array) and writes metrics only if it finds every shard on disk; the same
command without eval.shard then merges: it checks every shard and samples nothing.
"""

from pathlib import Path

from omegaconf import DictConfig

from mathlit.data.splits import load_test
from mathlit.errors import ConfigError
from mathlit.evaluation import evaluate, report_samples, sample_test, table
from mathlit.headline import accuracy_figures
from mathlit.models.build import check_model_choice, load_tokenizer
from mathlit.rerankers import Reranker, baselines, reranker
from mathlit.sampling.policy import Policy
from mathlit.sampling.ranks import join_launched_ranks
from mathlit.sampling.records import parse_part, read_samples
from mathlit.tasks import Report

SAMPLE_FIELDS = ("id", "sample_idx", "completion", "answer", "correct", "domain")  # what every metric reads


def sample_fields(rerank: Reranker | None, generator: str | None) -> tuple[str, ...]:
    """The fields a samples.jsonl row needs (mathlit writes them all): what every metric reads, and what the
    re-ranker and, beside a trained verifier, its baselines read."""
    scorers = [rerank, *baselines(rerank, generator)] if rerank else []
    return tuple(dict.fromkeys(SAMPLE_FIELDS + tuple(f for scorer in scorers for f in scorer.fields)))


def check(cfg: DictConfig) -> None:
    """Nothing trains, so any strategy will do; the weights must suit the model preset."""
    check_model_choice(cfg.model)


def train(cfg: DictConfig) -> None:
    """Nothing to train: the model is given. A job of several processes (torchrun, srun) samples here, on every
    rank, each its share of the shards; `report` (global rank 0) then finds them all on disk and samples nothing."""
    if cfg.eval.samples_path or cfg.model.path is None:
        return
    ranks = join_launched_ranks(cfg.trainer.collective_timeout_s)
    if ranks.world == 1:
        return
    policy = Policy(cfg, load_tokenizer(cfg.model), folder=cfg.model.path)
    part = parse_part(cfg.eval.shard, "eval.shard")
    sample_test(cfg, policy, test_problems(cfg), cfg.run_dir, greedy=cfg.eval.greedy, n=cfg.eval.n, part=part)
    policy.close()


def test_problems(cfg: DictConfig) -> list:
    """The test problems task=eval samples (the first eval.max_examples)."""
    test = load_test(cfg.data)  # no training file needed
    if cfg.eval.max_examples is not None:
        test = test[: cfg.eval.max_examples]
    if not test:
        raise ConfigError(f"data={cfg.data.name} has no test problems (data.test_path)")
    return test


def report(cfg: DictConfig, trained: None) -> Report:
    run_dir = Path(cfg.run_dir)
    rerank = reranker(cfg.eval.rerank, cfg.model.path, cfg, run_dir / "checks")
    if cfg.eval.samples_path:
        fields = sample_fields(rerank, cfg.model.path)
        records = read_samples(cfg.eval.samples_path, fields, "eval.samples_path")
        metrics = report_samples(cfg, records, run_dir, rerank=rerank, generator=cfg.model.path)
    else:
        if cfg.model.path is None:
            raise ConfigError("task=eval needs model.path (a trained HF folder) or eval.samples_path")
        test = test_problems(cfg)
        if rerank and cfg.eval.n <= 0:
            raise ConfigError("eval.rerank needs sampled solutions: set eval.n > 0 (or eval.samples_path)")
        served = cfg.sampler.name == "openai"  # the server's model; model.path only names its tokenizer
        policy = Policy(cfg, load_tokenizer(cfg.model), folder=None if served else cfg.model.path)
        part = parse_part(cfg.eval.shard, "eval.shard")
        metrics = evaluate(cfg, policy, test, run_dir, greedy=cfg.eval.greedy, n=cfg.eval.n, rerank=rerank, part=part)
        policy.close()
        if metrics is None:
            return Report(None, f"sampled shard {cfg.eval.shard}; other jobs' shards are still missing", None, {})
    objective = metrics.get("greedy_accuracy", metrics.get("sampled", {}).get("pass_ratio"))
    return Report(metrics, f"{cfg.data.name}\n{table(metrics)}", objective, accuracy_figures(metrics))
