"""Generator SFT: causal-LM loss on response tokens, averaged over all the tokens of an optimizer step."""

import random

import lightning as L
import numpy as np
import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from mathlit.config import ModelConfig, OptimConfig
from mathlit.data.tokenize import IGNORE
from mathlit.models.build import build_model
from mathlit.models.likelihood import token_logprobs
from mathlit.models.shard import fully_shard_decoder, reads_weights
from mathlit.modules.optim import configure_optimizer, total_steps


def lm_logits(model: PreTrainedModel, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """Logits of a padded batch, or of a packed one (position_ids, no attention_mask: see data/packing.py)."""
    if "position_ids" not in batch:
        return model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    # use_cache=False: with a KV cache transformers ignores the packing the position ids show.
    ids, positions = batch["input_ids"], batch["position_ids"]
    if model.config._attn_implementation == "flash_attention_2":  # varlen from position ids at batch size 1 only
        flat = model(input_ids=ids.reshape(1, -1), position_ids=positions.reshape(1, -1), use_cache=False).logits
        return flat.reshape(*ids.shape, -1)
    return model(input_ids=ids, position_ids=positions, use_cache=False).logits


def response_loss_sum(model: PreTrainedModel, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """(summed next-token cross-entropy over target tokens, number of target tokens)."""
    labels = batch["labels"][:, 1:]
    return -token_logprobs(lm_logits(model, batch)[:, :-1], labels).sum(), (labels != IGNORE).sum()


class RNGStateMixin:
    """Save and restore every RNG in checkpoints, so a resumed run draws what an uninterrupted one would."""

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        name, keys, pos, has_gauss, cached = np.random.get_state()
        # Plain values only: checkpoints load with torch.load(weights_only=True), which refuses ndarrays.
        checkpoint["rng_states"] = {
            "python": random.getstate(),
            "torch": torch.get_rng_state(),
            "numpy": (name, keys.tolist(), int(pos), int(has_gauss), float(cached)),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
        }

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        states = checkpoint.get("rng_states")
        if states is None:
            return
        random.setstate(states["python"])
        name, keys, pos, has_gauss, cached = states["numpy"]
        np.random.set_state((name, np.array(keys, dtype=np.uint32), pos, has_gauss, cached))
        torch.set_rng_state(states["torch"])
        if states["cuda"] is not None and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(states["cuda"])


class GeneratorSFT(RNGStateMixin, L.LightningModule):
    def __init__(
        self,
        model_cfg: ModelConfig,
        optim_cfg: OptimConfig,
        tokenizer: PreTrainedTokenizerBase,
        model: PreTrainedModel | None = None,
    ):
        super().__init__()
        self.model_cfg, self.optim_cfg, self.tokenizer = model_cfg, optim_cfg, tokenizer
        self.model = model  # weights of a previous stage, or built in configure_model
        self._step_loss = 0.0

    def configure_model(self) -> None:
        # Built here, not in __init__, so that sharding strategies can wrap it as it is created.
        if self.model is None:
            self.model = build_model(self.model_cfg, self.tokenizer, empty=not reads_weights(self))
        fully_shard_decoder(self.model, self.device_mesh)

    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        loss_sum, _ = response_loss_sum(self.model, batch)
        step_tokens = batch["step_tokens"]
        # Lightning divides by the accumulation count and DDP averages over ranks; undo both so the
        # gradient is that of (sum of the step's token losses) / (the step's token count).
        accumulation, world = self.trainer.accumulate_grad_batches, self.trainer.world_size
        self._step_loss += loss_sum.detach() / step_tokens
        if (batch_idx + 1) % accumulation == 0:
            step_loss = self.trainer.strategy.reduce(self._step_loss, reduce_op="sum")
            self.log("train/loss", step_loss, prog_bar=True)
            self.log("train/lr", self.trainer.optimizers[0].param_groups[0]["lr"])
            self._step_loss = 0.0
        return loss_sum * accumulation * world / step_tokens

    def validation_step(self, batch: dict, batch_idx: int) -> None:
        loss_sum, tokens = response_loss_sum(self.model, batch)
        # batch_size=tokens makes Lightning's epoch mean a per-token mean.
        self.log("val/loss", loss_sum / tokens, batch_size=int(tokens), sync_dist=True, prog_bar=True)

    def configure_optimizers(self) -> dict:
        return configure_optimizer(self.model, self.optim_cfg, total_steps(self.trainer))
