"""AdamW (or bitsandbytes' 8-bit AdamW), linear warm-up, then cosine, linear or constant: stepped per optimizer step."""

import math

import torch
from torch import nn

from mathlit.config import OptimConfig


def lr_factor(step: int, total: int, cfg: OptimConfig) -> float:
    """Share of the peak lr at `step` (0-based) of `total` optimizer steps."""
    warmup = math.ceil(cfg.warmup_ratio * total)
    if step < warmup:
        return (step + 1) / warmup
    if cfg.schedule == "constant":
        return 1.0
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    decay = 0.5 * (1 + math.cos(math.pi * progress)) if cfg.schedule == "cosine" else 1 - progress
    return cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * decay


def total_steps(trainer) -> int:
    """Optimizer steps of the whole run, for the lr schedule.

    Not `trainer.estimated_stepping_batches`: that builds the train loader before Lightning restores
    a checkpoint, and the restored loader position would then never be applied. Without max_steps, epochs
    of the stage's own data: data added mid-stage (rft.every_n_epochs) makes later epochs longer, and
    their extra steps run at the schedule's final lr.
    """
    if trainer.max_steps > 0:
        return trainer.max_steps
    return trainer.max_epochs * trainer.datamodule.planned_steps_per_epoch


def configure_optimizer(model: nn.Module, cfg: OptimConfig, total_steps: int) -> dict:
    """What a LightningModule's `configure_optimizers` returns. Norms and biases get no weight decay."""
    params = [p for p in model.parameters() if p.requires_grad]
    groups = [
        {"params": [p for p in params if p.ndim >= 2], "weight_decay": cfg.weight_decay},
        {"params": [p for p in params if p.ndim < 2], "weight_decay": 0.0},
    ]
    kwargs = {"lr": cfg.lr, "betas": (cfg.beta1, cfg.beta2), "eps": cfg.eps}
    if cfg.name == "adamw":
        optimizer = torch.optim.AdamW(groups, **kwargs)
    else:  # adamw8bit
        import bitsandbytes as bnb  # optional extra: pip install mathlit[gpu]

        optimizer = bnb.optim.AdamW8bit(groups, **kwargs)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: lr_factor(step, total_steps, cfg))
    return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}
