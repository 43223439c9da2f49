"""Online RL with verifiable rewards: GRPO (DeepSeekMath), Dr. GRPO, DAPO and RLOO, from an SFT model.

    python -m mathlit task=grpo                                   # tiny LLaMA on arith: SFT stage, then GRPO
    python -m mathlit task=grpo model.path=OUT/sft/hf rl.algorithm=dapo rl.group_size=8 rl.questions_per_step=16
    python -m mathlit task=grpo model=qwen2_5_0_5b model.path=/models/Qwen2.5-0.5B-Instruct data=gsm8k

Each step (rl.max_steps of them):
1. sample rl.group_size solutions to each of rl.questions_per_step training questions from the current weights
   (<run_dir>/rollouts/<step>/draw<d>/: graded samples in resumable shards, rewards.jsonl);
2. reward each: 1 for a correct final answer (the grader of eval and RFT), plus rl.reward.* terms;
   DAPO's dynamic sampling drops groups whose rewards are all equal and draws more questions (rl.max_draws);
3. advantage of each sample within its group (rl.advantage);
4. rl.updates_per_batch passes over the batch, of rl.minibatches optimizer steps each, on the clipped policy loss
   (rl.loss_agg, rl.epsilon*, rl.kl_coef).
Logged every step (<run_dir>/grpo/logs/): reward mean, share correct/wrong/unreadable, share of groups with
signal, response length, entropy, clip fraction, KL, sampling vs training seconds. Then the greedy accuracy of
the final weights on the test split (<run_dir>/grpo/test/; every rank samples its share, as at rl.eval_every).
Without model.path an SFT stage runs first (<run_dir>/sft/).
"""

import time
from pathlib import Path
from typing import NamedTuple

import lightning as L
import torch
from lightning.pytorch.utilities import rank_zero_only
from omegaconf import DictConfig, OmegaConf
from transformers import PreTrainedTokenizerBase

from mathlit.answers.grading import Grading
from mathlit.data.splits import Splits, load_splits
from mathlit.errors import ConfigError
from mathlit.evaluation import evaluate, sample_test
from mathlit.headline import accuracy_figures, merge, training_figures
from mathlit.io import write_json, write_jsonl
from mathlit.metrics.plots import plot_over_steps
from mathlit.models.build import build_model, load_tokenizer
from mathlit.modules.grpo import GRPOModule, RolloutBatch, RolloutSteps
from mathlit.rl.advantages import group_advantages
from mathlit.rl.curves import accuracy_curve, reward_curve
from mathlit.rl.groups import fill_batch, group_stats
from mathlit.rl.rewards import RewardWeights, check_golds, reward_records, reward_rows, reward_summary
from mathlit.rl.rollouts import as_groups, questions_at, rollouts
from mathlit.rl.settings import RLParts, check_devices, check_rl, resolve, steps_per_batch
from mathlit.sampling.policy import Policy
from mathlit.startup import check_training
from mathlit.strategies import world_size
from mathlit.tasks import Report
from mathlit.training import StageResult, fit_stage, sft_parts


class Trained(NamedTuple):
    stage: StageResult
    tokenizer: PreTrainedTokenizerBase
    splits: Splits
    started: float


def batch_sampler(cfg: DictConfig, parts: RLParts, policy: Policy, splits: Splits, out_dir: Path, scorer=None):
    """step, model, rank, world -> the step's RolloutBatch on this rank: sample a group for each of its share of
    the step's questions, reward, (filter,) advantage. Each rank grades its own whole groups."""
    rl, weights = cfg.rl, RewardWeights.from_config(cfg.rl)
    draws_per_step = rl.max_draws if parts.dynamic_sampling else 1

    def sample_batch(step: int, model, rank: int = 0, world: int = 1) -> RolloutBatch:
        share = rl.questions_per_step // world  # whole groups per rank (checked at start-up)
        drawn: list[list[dict]] = []

        def draw(count: int) -> list[list[dict]]:
            d = len(drawn) // share
            start = (step * draws_per_step + d) * rl.questions_per_step + rank * share
            questions = questions_at(splits.train, cfg.seed, start, count)
            folder = out_dir / f"{step:05d}" / (f"rank{rank}" if world > 1 else "") / f"draw{d}"
            records = rollouts(policy, model, step, questions, folder, cfg.seed * 1_000_003 + step * draws_per_step + d)
            scores = scorer.score([(r["question"], r["completion"]) for r in records]) if scorer else None
            rewarded = reward_records(records, weights, scores)
            write_jsonl(folder / "rewards.jsonl", reward_rows(rewarded))  # each sample's reward, beside its shards
            groups = as_groups(rewarded, questions, rl.group_size)
            drawn.extend(groups)
            return groups

        groups = fill_batch(draw, share, rl.max_draws).groups if parts.dynamic_sampling else draw(share)
        policy.pause()  # the update needs the memory a GPU engine holds
        stats = reward_summary([r for g in drawn for r in g]) | group_stats(drawn) | {"groups_trained": len(groups)}
        if not groups:
            return RolloutBatch([], [], stats)
        rewards = torch.tensor([[r["reward"] for r in g] for g in groups])
        advantages = group_advantages(rewards, parts.advantage).reshape(-1).tolist()
        return RolloutBatch([r for g in groups for r in g], advantages, stats)

    return sample_batch


def evaluator(cfg: DictConfig, policy: Policy, splits: Splits, out_dir: Path):
    """steps, model -> greedy test accuracy (and pass@k/maj@k with eval.n) through the run's Policy, stored in
    out_dir/<steps>/. Every rank calls it at once and samples its share; global rank 0 scores and gets the accuracy,
    the others None."""

    def evaluate_at(steps: int, model) -> float | None:
        folder = out_dir / f"{steps:05d}"
        policy.load(model, version=f"step{steps}")
        sample_test(cfg, policy, splits.test, folder, n=cfg.eval.n)
        metrics = evaluate(cfg, policy, splits.test, folder, n=cfg.eval.n) if rank_zero_only.rank == 0 else None
        policy.pause()
        if metrics is None:
            return None
        write_json(folder / "metrics.json", metrics)
        return metrics["greedy_accuracy"]

    return evaluate_at


def rl_stage_config(cfg: DictConfig) -> DictConfig:
    """The trainer settings of the RL stage: rl.max_steps batches of updates_per_batch x minibatches optimizer steps;
    batches, accumulation and clipping are the module's own (manual optimization)."""
    trainer = {
        "max_steps": cfg.rl.max_steps * steps_per_batch(cfg.rl),
        "max_epochs": -1,
        "global_batch_size": cfg.trainer.micro_batch_size * world_size(cfg.trainer),  # no accumulation: one pass a rank
        "gradient_clip_val": 0.0,
        "val_every_n_steps": None,
        "log_every_n_steps": 1,  # every RL step's figures are logged (each step samples: logging costs nothing)
    }
    return OmegaConf.merge(cfg, {"trainer": trainer})


def check(cfg: DictConfig) -> RLParts:
    """task=grpo's start-up check: the weights and strategy as every training task's, then bad rl.* settings or a
    device setup it cannot run, in one line naming the key."""
    check_training(cfg)
    parts = check_rl(cfg.rl, world_size(cfg.trainer))
    check_devices(cfg.trainer)
    check_rollout_sampler(cfg)
    return parts


def check_rollout_sampler(cfg: DictConfig) -> None:
    """Rollouts sample the weights being trained (sampler=openai is refused by check_training, as for every
    training task); with sampler=vllm each rank has its own engine, synced with the weights it trains, so an
    engine spans one GPU: each rank draws its own questions, which an engine over several ranks cannot. With LoRA
    the engine gets the merged weights."""
    name, ranks, size = cfg.sampler.name, world_size(cfg.trainer), cfg.sampler.tensor_parallel_size
    if name == "vllm" and ranks > 1 and size > 1:
        raise ConfigError(
            f"sampler.tensor_parallel_size={size} with {ranks} ranks: task=grpo's ranks each sample their own "
            "questions, with an engine on their own GPU; set sampler.tensor_parallel_size=1"
        )
    if cfg.rl.importance_correction and cfg.rl.top_p < 1:
        raise ConfigError(
            f"rl.top_p={cfg.rl.top_p} with rl.importance_correction: the trainer's log-probs apply no top-p, so the "
            "engine's and the trainer's would differ by design (set rl.top_p=1.0 or rl.importance_correction=false)"
        )


def train(cfg: DictConfig) -> Trained:
    parts = resolve(cfg.rl)  # checked at start-up (check)
    started = time.time()
    L.seed_everything(cfg.seed, workers=True)
    tokenizer = load_tokenizer(cfg.model)
    splits = load_splits(cfg.data)
    check_golds(splits.train, Grading.from_config(cfg))
    run_dir = Path(cfg.run_dir)
    start = cfg.model.path
    if start is None:  # an SFT stage first, as task=rft runs it
        sft = fit_stage(cfg, *sft_parts(cfg, tokenizer, splits), run_dir / "sft")
        start = str(sft.hf_dir)
    start_model = OmegaConf.merge(cfg.model, {"path": start})
    # One Policy follows the weights step after step: rollouts and evaluations sample through it.
    policy = Policy(cfg, tokenizer, engine_dir=run_dir / "rollouts" / "engine_init")
    scorer = None
    if cfg.rl.reward.verifier:
        from mathlit.modules.verifier import Scorer

        scorer = Scorer(cfg.rl.reward_model, cfg=cfg)
    module = GRPOModule(
        start_model,
        cfg.optim,
        tokenizer,
        parts,
        batch_sampler(cfg, parts, policy, splits, run_dir / "rollouts", scorer),
        updates_per_batch=cfg.rl.updates_per_batch,
        minibatches=cfg.rl.minibatches,
        micro_batch_size=cfg.trainer.micro_batch_size,
        gradient_clip_val=cfg.trainer.gradient_clip_val,
        temperature=cfg.rl.temperature,
        reference=(lambda: build_model(start_model, tokenizer)) if parts.kl_coef else None,
        evaluate=evaluator(cfg, policy, splits, run_dir / "grpo" / "evals") if splits.test else None,
        eval_every=cfg.rl.eval_every,
    )
    stage = fit_stage(rl_stage_config(cfg), module, RolloutSteps(cfg.rl.max_steps), run_dir / "grpo")
    policy.close()
    if scorer is not None:
        scorer.close()
    if splits.test:  # the final weights' test problems, every rank its share; `report` scores them
        final = Policy(cfg, tokenizer, folder=stage.hf_dir, model=stage.model)
        sample_test(cfg, final, splits.test, run_dir / "grpo" / "test")
        final.close()
    return Trained(stage, tokenizer, splits, started)


def report(cfg: DictConfig, trained: Trained) -> Report:
    stage, test = trained.stage, trained.splits.test
    run_dir, stage_dir = Path(cfg.run_dir), Path(cfg.run_dir) / "grpo"
    steps = stage.global_step // steps_per_batch(cfg.rl)
    metrics = {"data": trained.splits.report, "rl_steps": steps, "reward_curve": reward_curve(run_dir / "rollouts")}
    if test:
        policy = Policy(cfg, trained.tokenizer, folder=stage.hf_dir, model=stage.model)
        metrics |= evaluate(cfg, policy, test, stage_dir / "test")
        policy.close()
        metrics["test_accuracy_curve"] = accuracy_curve(stage_dir / "evals") | {steps: metrics["greedy_accuracy"]}
    curves = {
        "mean reward of step's samples": metrics["reward_curve"],
        "test greedy accuracy after step": metrics.get("test_accuracy_curve", {}),
    }
    plot_over_steps(curves, stage_dir / "reward.png", f"task=grpo rl.algorithm={cfg.rl.algorithm} data={cfg.data.name}")
    metrics["seconds"] = round(time.time() - trained.started, 1)
    accuracy = metrics.get("greedy_accuracy")
    summary = f"greedy accuracy {accuracy:.1%} on {metrics['problems']} test problems; " if test else ""
    figures = merge(training_figures(stage_dir, stage.global_step, trained.splits.report), accuracy_figures(metrics))
    return Report(metrics, f"{summary}{metrics['seconds']:.0f} s; model in {stage.hf_dir}", accuracy, figures)
