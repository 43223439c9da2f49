"""Causal-LM pre-training from scratch: every token of a raw corpus is a target; the held-out loss is reported.

    python -m mathlit task=pretrain                                   # tiny LLaMA on generated arithmetic text
    python -m mathlit task=pretrain pretrain.path=corpus.jsonl model.arch.hidden_size=256 trainer.max_steps=2000
    python -m mathlit task=sft model.path=outputs/pretrain/<time>/hf    # fine-tune what it wrote

Documents (mathlit.data.corpus) joined with EOS and cut into pretrain.block_size-token blocks, trained with the
same Trainer, logging, resume and export as every stage (the generator module, its labels covering every
token); the pre-training loss of the held-out documents (pretrain.val_documents) is measured on the final
weights. Writes hf/, checkpoints/, logs/ and metrics.json ("heldout_loss", and the headline's loss).
"""

import time
from pathlib import Path
from typing import NamedTuple

import lightning as L
import torch
from omegaconf import DictConfig

from mathlit.data.batching import pad_batch
from mathlit.data.corpus import block_encoder, corpus_splits
from mathlit.errors import ConfigError
from mathlit.headline import merge, training_figures
from mathlit.models.build import context_length, load_tokenizer
from mathlit.modules.generator import GeneratorSFT, response_loss_sum
from mathlit.strategies import check_strategy
from mathlit.tasks import Report
from mathlit.training import StageResult, datamodule, fit_stage


class Trained(NamedTuple):
    stage: StageResult
    val_blocks: list[dict]
    data_report: dict
    pad_id: int
    started: float


def check(cfg: DictConfig) -> None:
    """Trains from scratch: no weights to load; the strategy must run here."""
    if cfg.model.path is not None:
        raise ConfigError("task=pretrain trains from scratch: set model.path=null (and model.arch)")
    check_strategy(cfg)


def train(cfg: DictConfig) -> Trained:
    started = time.time()
    if cfg.pretrain.block_size > cfg.data.max_length:
        raise ConfigError(
            f"pretrain.block_size={cfg.pretrain.block_size} exceeds data.max_length={cfg.data.max_length}"
        )
    if (context := context_length(cfg.model)) is not None and cfg.pretrain.block_size > context:
        raise ConfigError(
            f"pretrain.block_size={cfg.pretrain.block_size} exceeds the model's context ({context} tokens)"
        )
    L.seed_everything(cfg.seed, workers=True)
    tokenizer = load_tokenizer(cfg.model)
    splits = corpus_splits(cfg.pretrain, cfg.data.arith)
    data = datamodule(cfg, tokenizer, encode=block_encoder(tokenizer, cfg.pretrain.block_size), splits=splits)
    stage = fit_stage(cfg, GeneratorSFT(cfg.model, cfg.optim, tokenizer), data, Path(cfg.run_dir))
    tokens = len(data.train_set) * cfg.pretrain.block_size
    report = splits.report | {"train": len(data.train_set), "val": len(data.val_set), "train_tokens": tokens}
    return Trained(stage, data.val_set, report, data.pad_id, started)


@torch.no_grad()
def heldout_loss(model, blocks: list[dict], pad_id: int, batch_size: int) -> float:
    """Mean next-token loss per token over the held-out blocks."""
    model.eval()
    device = next(model.parameters()).device
    total, tokens = 0.0, 0
    for i in range(0, len(blocks), batch_size):
        batch = {k: v.to(device) for k, v in pad_batch(blocks[i : i + batch_size], pad_id).items()}
        loss_sum, count = response_loss_sum(model, batch)
        total, tokens = total + loss_sum.item(), tokens + int(count)
    return total / max(1, tokens)


def report(cfg: DictConfig, trained: Trained) -> Report:
    loss = heldout_loss(trained.stage.model, trained.val_blocks, trained.pad_id, cfg.trainer.micro_batch_size)
    metrics = {"heldout_loss": loss, "data": trained.data_report, "seconds": round(time.time() - trained.started, 1)}
    corpus = {
        "name": "corpus" if cfg.pretrain.path else "arith text",
        "path": cfg.pretrain.path,
        "train_fraction": None,
    }
    stage = training_figures(cfg.run_dir, trained.stage.global_step, trained.data_report)
    figures = merge(stage, {"loss": {"heldout": loss}, "data": corpus})  # data.train: blocks of block_size tokens
    summary = f"held-out loss {loss:.4f} on {len(trained.val_blocks)} blocks; model in {trained.stage.hf_dir}"
    return Report(metrics, summary, loss, figures)
