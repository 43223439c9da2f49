"""Supervised fine-tuning of the generator, then its greedy accuracy on the test split.

    python -m mathlit                      # the default: tiny LLaMA, procedural arithmetic, CPU, ~4 minutes
    python -m mathlit task=sft model=llama2_7b data=gsm8k model.path=/models/Llama-2-7b-hf

Features: loss on response tokens only, averaged over each optimizer step's tokens (across
gradient accumulation and data-parallel ranks); AdamW with warm-up and cosine decay; exact resume
from <run_dir>/checkpoints/last.ckpt; a Hugging Face folder in <run_dir>/hf;
greedy completions of the test problems in <run_dir>/test/greedy/ (every rank samples its share); metrics.json.
"""

import time
from pathlib import Path
from typing import NamedTuple

import lightning as L
from omegaconf import DictConfig
from transformers import PreTrainedTokenizerBase

from mathlit.data.splits import Splits
from mathlit.evaluation import evaluate, sample_test
from mathlit.headline import accuracy_figures, merge, training_figures
from mathlit.models.build import load_tokenizer
from mathlit.sampling.policy import Policy
from mathlit.tasks import Report
from mathlit.training import StageResult, fit_stage, sft_parts


class Trained(NamedTuple):
    stage: StageResult
    tokenizer: PreTrainedTokenizerBase
    splits: Splits
    started: float
    train_seconds: float


def train(cfg: DictConfig) -> Trained:
    started = time.time()
    L.seed_everything(cfg.seed, workers=True)
    tokenizer = load_tokenizer(cfg.model)
    module, data = sft_parts(cfg, tokenizer)
    stage = fit_stage(cfg, module, data, Path(cfg.run_dir))
    trained = Trained(stage, tokenizer, data.splits, started, round(time.time() - started, 1))
    if data.splits.test:  # every rank samples its share of the test problems; `report` scores them
        policy = Policy(cfg, tokenizer, folder=stage.hf_dir, model=stage.model)
        sample_test(cfg, policy, data.splits.test, Path(cfg.run_dir) / "test")
        policy.close()
    return trained


def report(cfg: DictConfig, trained: Trained) -> Report:
    stage, test = trained.stage, trained.splits.test
    metrics = {"data": trained.splits.report, "train_seconds": trained.train_seconds}
    if test:
        policy = Policy(cfg, trained.tokenizer, folder=stage.hf_dir, model=stage.model)
        metrics |= evaluate(cfg, policy, test, Path(cfg.run_dir) / "test")
        policy.close()
    metrics["seconds"] = round(time.time() - trained.started, 1)
    accuracy = metrics.get("greedy_accuracy")
    summary = f"greedy accuracy {accuracy:.1%} on {metrics['problems']} test problems; " if test else ""
    figures = merge(training_figures(cfg.run_dir, stage.global_step, trained.splits.report), accuracy_figures(metrics))
    return Report(metrics, f"{summary}{metrics['seconds']:.0f} s; model in {stage.hf_dir}", accuracy, figures)
