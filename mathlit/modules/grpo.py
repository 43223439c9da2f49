"""The policy update of online RL: recompute the sampled tokens' log-probs, then the loss of mathlit.rl.

One training step of Lightning is one batch of rollouts: `sample_batch(rl_step, model, rank, world)` samples,
rewards and computes advantages of this rank's share of the questions (mathlit/tasks/grpo.py); then
rl.updates_per_batch passes of rl.minibatches optimizer steps over it, each in micro-batches whose losses add up
to the whole part's (aggregation counts of the part over all ranks). Manual optimization, so
trainer.global_step counts optimizer steps and the lr schedule and clipping are applied here.

Under DDP, ranks train on different numbers of micro-batches (their own groups), which DDP's reduction at
every backward cannot pair: its sync is switched off and the gradients are summed over ranks once per
optimizer step instead (`_sum_gradients`); with counts of all ranks, the sum is the whole batch's gradient.
"""

import inspect
import time
from collections.abc import Callable
from typing import NamedTuple

import lightning as L
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from mathlit.config import ModelConfig, OptimConfig
from mathlit.data.batching import pad_batch
from mathlit.data.tokenize import IGNORE, encode_sft
from mathlit.models.build import build_model
from mathlit.models.likelihood import token_logprobs
from mathlit.modules.generator import RNGStateMixin
from mathlit.modules.optim import configure_optimizer, total_steps
from mathlit.rl.loss import logprob_gap, policy_loss
from mathlit.rl.settings import RLParts


class RolloutBatch(NamedTuple):
    records: list[dict]  # the samples to train on (whole groups), each with prompt, completion, finish_reason
    advantages: list[float]  # one per record
    stats: dict[str, float]  # reward mean, shares, groups with signal, ... of everything sampled this step


def encode_rollouts(tokenizer: PreTrainedTokenizerBase, records: list[dict], overlong_filter: bool) -> list[dict]:
    """Prompt + sampled tokens with the sampled tokens as targets.

    A record with `token_ids` (what the engine sampled, EOS included when it stopped on it) and
    `token_logprobs` (the engine's log-prob of each) trains on exactly those tokens and carries the engine's
    log-probs (`engine_logprobs`, for the gap and the importance correction). Otherwise the completion text is
    tokenised as SFT tokenises it, with EOS as a target where the sampler stopped, not where it was cut off.
    overlong_filter: a cut-off sample (finish_reason "length") has no targets (masked out of the loss).
    """
    texts = encode_sft(tokenizer, [r["prompt"] for r in records], [r["completion"] for r in records])
    encoded = []
    for record, example in zip(records, texts, strict=True):
        if "token_ids" in record:
            prompt = [t for t, label in zip(example["input_ids"], example["labels"], strict=True) if label == IGNORE]
            ids = list(record["token_ids"])
            example = {"input_ids": prompt + ids, "labels": [IGNORE] * len(prompt) + ids}
            example["engine_logprobs"] = [0.0] * len(prompt) + list(record["token_logprobs"])
        elif record["finish_reason"] == "length":  # cut off: no EOS was sampled
            example = {k: v[:-1] for k, v in example.items()}
        if overlong_filter and record["finish_reason"] == "length":
            example["labels"] = [IGNORE] * len(example["labels"])
        encoded.append(example)
    return encoded


def policy_logprobs(model: PreTrainedModel, batch: dict, temperature: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    """(log-prob of each next token [N, T-1], 0 where it is no target; entropy of each next-token distribution
    [N, T-1], 0 where it is no target) under the distribution the tokens were sampled from: the logits divided by
    the sampling temperature (as TRL and verl).

    Logits are computed only from the first position that predicts a target on (`logits_to_keep`, as TRL does):
    the prompt's logits are never used, and at real scale they are most of the memory ([N, T, vocab] in fp32)."""
    targets = batch["labels"][:, 1:]
    sampled = targets != IGNORE
    first = int(sampled.any(dim=0).nonzero()[0]) if sampled.any() else targets.size(1) - 1
    keep = targets.size(1) - first  # logits at positions first .. T-2 predict targets first .. T-1
    inputs = {"input_ids": batch["input_ids"], "attention_mask": batch["attention_mask"]}
    if accepts_logits_to_keep(model):
        logits = model(**inputs, logits_to_keep=keep + 1).logits[:, :-1]
    else:
        logits = model(**inputs).logits[:, first:-1]
    logits = logits.float() / temperature
    logp = F.pad(token_logprobs(logits, targets[:, first:]), (first, 0))  # 0 before the first target
    entropy = torch.zeros(targets.shape, dtype=logits.dtype, device=logits.device)
    with torch.no_grad():  # only at the sampled tokens: [tokens, vocab], not [N, T, vocab]
        chosen = F.log_softmax(logits.detach()[sampled[:, first:]], dim=-1)
        entropy[:, first:][sampled[:, first:]] = -(chosen.exp() * chosen).sum(-1)
    return logp, entropy


def accepts_logits_to_keep(model: PreTrainedModel) -> bool:
    """Whether the model's forward (under a LoRA wrapper: its base model's) takes `logits_to_keep`."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    return "logits_to_keep" in inspect.signature(type(base).forward).parameters


class GRPOModule(RNGStateMixin, L.LightningModule):
    def __init__(
        self,
        model_cfg: ModelConfig,
        optim_cfg: OptimConfig,
        tokenizer: PreTrainedTokenizerBase,
        parts: RLParts,
        sample_batch: Callable[[int, PreTrainedModel, int, int], RolloutBatch],
        *,
        updates_per_batch: int,
        minibatches: int = 1,
        micro_batch_size: int,
        gradient_clip_val: float,
        temperature: float = 1.0,
        model: PreTrainedModel | None = None,
        reference: Callable[[], PreTrainedModel] | None = None,
        evaluate: Callable[[int, PreTrainedModel], float | None] | None = None,
        eval_every: int | None = None,
    ):
        super().__init__()
        self.automatic_optimization = False
        self.model_cfg, self.optim_cfg, self.tokenizer, self.parts = model_cfg, optim_cfg, tokenizer, parts
        self.sample_batch, self.micro, self.clip = sample_batch, micro_batch_size, gradient_clip_val
        self.mu, self.minibatches, self.temperature = updates_per_batch, minibatches, temperature
        self.steps_per_batch = updates_per_batch * minibatches  # optimizer steps per batch of rollouts
        self.model = model
        # The frozen KL reference (only when kl_coef > 0), kept in a tuple: not a submodule, so it is neither in
        # the checkpoints (it is rebuilt from the starting weights) nor seen by the optimizer.
        self._reference_loader, self._reference = reference, ()
        self.evaluate, self.eval_every = evaluate, eval_every  # step, model -> test greedy accuracy (rank 0; else None)

    def configure_model(self) -> None:
        if self.model is None:
            self.model = build_model(self.model_cfg, self.tokenizer)
        if self._reference_loader is not None and not self._reference:
            self._reference = (self._reference_loader().eval().requires_grad_(False),)

    def on_fit_start(self) -> None:
        for reference in self._reference:
            reference.to(self.device)

    def on_train_start(self) -> None:
        wrapper = self.trainer.strategy.model
        if isinstance(wrapper, DistributedDataParallel):
            wrapper.require_backward_grad_sync = False  # gradients are summed by _sum_gradients

    def on_train_end(self) -> None:
        """Ranks end with the same weights, or the gradient sum is broken: a checksum per rank, compared."""
        if self.trainer.world_size > 1:
            checksum = torch.stack([p.detach().double().sum() for p in self.model.parameters()]).sum().reshape(1)
            sums = self.all_gather(checksum.to(self.device)).reshape(-1)
            if not torch.equal(sums, sums[:1].expand_as(sums)):
                raise RuntimeError(f"ranks hold different weights after training (checksums {sums.tolist()})")

    @property
    def reference(self) -> PreTrainedModel | None:
        return self._reference[0] if self._reference else None

    def training_step(self, batch, batch_idx: int) -> None:
        rl_step = self.global_step // self.steps_per_batch
        started = time.perf_counter()
        rollout = self.sample_batch(rl_step, self.model, self.global_rank, self.trainer.world_size)
        sampled = time.perf_counter()
        logged = rollout.stats | self._update(rollout)
        logged |= {"sample_seconds": sampled - started, "train_seconds": time.perf_counter() - sampled}
        logged["lr"] = self.optimizers().param_groups[0]["lr"]
        self.log_dict({f"rl/{k}": float(v) for k, v in logged.items()}, sync_dist=True)  # means over ranks
        # The final weights are evaluated once, by the task's report (its test/ folder and the curve's last point).
        last = 0 < self.trainer.max_steps <= (rl_step + 1) * self.steps_per_batch
        if self.evaluate is not None and self.eval_every and (rl_step + 1) % self.eval_every == 0 and not last:
            accuracy = self.evaluate(rl_step + 1, self.model)  # every rank samples its share; rank 0 scores
            if accuracy is not None:
                self.log("rl/test_greedy_accuracy", float(accuracy), rank_zero_only=True)

    def _chunks(self, records: list[dict], advantages: list[float]) -> list[tuple[dict, torch.Tensor]]:
        """Records in micro-batches of (padded tensors, advantages) on this device, shortest first."""
        if not records:  # a part left empty (a short batch, or no group with signal)
            return []
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else self.tokenizer.eos_token_id
        encoded = encode_rollouts(self.tokenizer, records, self.parts.overlong_filter)
        # Micro-batches of similar lengths pad less; the loss is a sum over them, so their order changes nothing.
        order = sorted(range(len(encoded)), key=lambda i: len(encoded[i]["input_ids"]))
        encoded, advantages = [encoded[i] for i in order], [advantages[i] for i in order]
        chunks = []
        for i in range(0, len(encoded), self.micro):
            tensors = pad_batch(encoded[i : i + self.micro], pad)
            advantage = torch.tensor(advantages[i : i + self.micro])
            chunks.append(({k: v.to(self.device) for k, v in tensors.items()}, advantage.to(self.device)))
        return chunks

    def _minibatches(self, rollout: RolloutBatch) -> list[list[tuple[dict, torch.Tensor]]]:
        """The batch in rl.minibatches consecutive parts of near-equal size (one optimizer step each; a part
        left empty by a short batch is a step that changes nothing), each in micro-batches."""
        n, m = len(rollout.records), self.minibatches
        bounds = [round(k * n / m) for k in range(m + 1)]
        return [
            self._chunks(rollout.records[a:b], rollout.advantages[a:b])
            for a, b in zip(bounds, bounds[1:], strict=False)
        ]

    def _update(self, rollout: RolloutBatch) -> dict[str, float]:
        """rl.updates_per_batch passes over the batch, each of rl.minibatches optimizer steps; the statistics
        of the last pass."""
        optimizer, scheduler = self.optimizers(), self.lr_schedulers()
        minibatches = self._minibatches(rollout)
        # pi_old, the weights that sampled the batch: pi_theta itself while the batch takes a single step.
        old = [self._frozen_logprobs(self.model, mb) for mb in minibatches] if self.steps_per_batch > 1 else None
        ref = [self._frozen_logprobs(self.reference, mb) for mb in minibatches] if self.reference is not None else None
        totals = dict.fromkeys(("loss", "clipped", "kl", "entropy", "tokens", "gap", "engine_tokens"), 0.0)
        gap_max = 0.0
        for update in range(self.mu):
            for m, chunks in enumerate(minibatches):
                optimizer.zero_grad(set_to_none=True)  # nothing to train on: AdamW skips parameters without a gradient
                # The aggregation counts of the whole part, all ranks: the micro-batches' losses add up to the part's.
                sequences, tokens = self._sum_over_ranks(
                    [
                        sum(len(b["input_ids"]) for b, _ in chunks),
                        sum(int((b["labels"] != IGNORE).sum()) for b, _ in chunks),
                    ]
                )
                counts = {"sequences": int(sequences), "tokens": tokens}
                for i, (b, advantages) in enumerate(chunks):
                    old_logp = None if old is None else old[m][i]
                    ref_logp = None if ref is None else ref[m][i]
                    last = update == self.mu - 1
                    gap = self._micro_batch(b, advantages, old_logp, ref_logp, counts, totals if last else None)
                    gap_max = max(gap_max, gap)
                if tokens == 0:  # no rank has anything to train on: a step that changes nothing
                    optimizer.zero_grad(set_to_none=True)
                    optimizer.step()
                    scheduler.step()
                    continue
                self._sum_gradients()
                if self.clip:
                    # Not self.clip_gradients: Lightning ties it to Trainer(gradient_clip_val), refused in manual mode.
                    torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.clip)
                optimizer.step()
                scheduler.step()
        totals = dict(zip(totals, self._sum_over_ranks(list(totals.values())), strict=True))
        gap_max = self._sum_over_ranks([gap_max], op=dist.ReduceOp.MAX)[0]  # the largest over ranks
        tokens = max(totals["tokens"], 1.0)
        stats = {
            "loss": totals["loss"] / self.minibatches,
            "entropy": totals["entropy"] / tokens,
            "clip_fraction": totals["clipped"] / tokens,
        }
        if self.reference is not None:
            stats["kl"] = totals["kl"] / tokens
        if totals["engine_tokens"]:  # the same on every rank: the keys logged must be
            stats |= {"logprob_gap_mean": totals["gap"] / totals["engine_tokens"], "logprob_gap_max": gap_max}
        return stats

    def _sum_over_ranks(self, values: list[float], op=dist.ReduceOp.SUM) -> list[float]:
        """The values summed over ranks (or reduced with another `op`)."""
        if self.trainer.world_size == 1:
            return values
        reduced = torch.tensor(values, dtype=torch.float64, device=self.device)
        dist.all_reduce(reduced, op=op)
        return reduced.tolist()

    def _sum_gradients(self) -> None:
        """Each parameter's gradient summed over ranks (a rank without one adds zeros), in one all-reduce."""
        if self.trainer.world_size == 1:
            return
        params = [p for p in self.model.parameters() if p.requires_grad]
        grads = [torch.zeros_like(p) if p.grad is None else p.grad for p in params]
        flat = torch.cat([g.reshape(-1) for g in grads])
        dist.all_reduce(flat)
        for p, piece in zip(params, flat.split([g.numel() for g in grads]), strict=True):
            p.grad = piece.view_as(p).clone()

    def _micro_batch(self, b: dict, advantages, old_logp, ref_logp, counts: dict, totals: dict | None) -> float:
        """Backward of one micro-batch's share of the loss; its statistics added to `totals` when given; the
        largest engine/trainer log-prob gap of its tokens (0 without engine log-probs)."""
        mask = b["labels"][:, 1:] != IGNORE
        logp, entropy = policy_logprobs(self.model, b, self.temperature)
        old_logp = logp.detach() if old_logp is None else old_logp
        engine = b["engine_logprobs"][:, 1:].float() if "engine_logprobs" in b else None
        out = policy_loss(
            logp,
            old_logp,
            advantages,
            mask,
            epsilon_low=self.parts.epsilon_low,
            epsilon_high=self.parts.epsilon_high,
            aggregation=self.parts.loss_agg,
            max_tokens=self.parts.loss_divisor,
            engine_logp=engine,
            importance_cap=self.parts.importance_cap,
            ref_logp=ref_logp,
            kl_coef=self.parts.kl_coef,
            **counts,
        )
        self.manual_backward(out.loss)
        if totals is None:
            return 0.0
        totals["loss"] += out.loss.item()
        totals["clipped"] += out.clipped_tokens.item()
        totals["kl"] += out.kl_sum.item()
        totals["entropy"] += (entropy * mask).sum().item()
        totals["tokens"] += out.tokens.item()
        if engine is None:
            return 0.0
        gap_mean, gap_max = logprob_gap(old_logp, engine, mask)  # the engine's log-probs vs the trainer's
        totals["gap"] += gap_mean * out.tokens.item()
        totals["engine_tokens"] += out.tokens.item()
        return gap_max

    @torch.no_grad()
    def _frozen_logprobs(self, model: PreTrainedModel, chunks: list) -> list[torch.Tensor]:
        """The sampled tokens' log-probs under weights that do not change during the updates."""
        return [policy_logprobs(model, b, self.temperature)[0] for b, _ in chunks]

    def configure_optimizers(self) -> dict:
        return configure_optimizer(self.model, self.optim_cfg, total_steps(self.trainer))


class RolloutSteps(L.LightningDataModule):
    """One placeholder item per batch of rollouts: the batches themselves are sampled in the training step
    from the current weights. Which questions a step draws is a function of its number (rl.rollouts.questions_at),
    so a resumed run needs no loader state."""

    def __init__(self, steps: int):
        super().__init__()
        self.steps, self.val_set = steps, []

    def train_dataloader(self) -> DataLoader:
        return DataLoader(list(range(self.steps)), batch_size=None)
