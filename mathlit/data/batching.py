"""Micro-batches planned per optimizer step, so the loss is a true mean over a step's tokens.

Per-micro-batch mean losses weight a token in a short micro-batch more than one in a long one. Here
every optimizer step is planned as a whole: its `global_batch_size` examples (all ranks, all
accumulation micro-batches) are drawn together, and each micro-batch carries the number of target
tokens of the whole step, so `loss_sum / step_tokens` summed over the step is the exact token mean.

The order is a pure function of (seed, epoch, position), which is what makes resuming exact: a
resumed run starts at the position its global step implies and sees the batches an uninterrupted
run would have seen.
"""

import random
from collections.abc import Iterator

import torch
from torch.utils.data import Dataset, Sampler

from mathlit.data.packing import deal, pack_batch
from mathlit.data.tokenize import IGNORE
from mathlit.errors import ConfigError


def pad_batch(examples: list[dict], pad_id: int) -> dict[str, torch.Tensor]:
    """Right-pad each list field to its own width; `*labels` and `*targets` with IGNORE, others with pad_id.

    Every `<prefix>input_ids` field gets a `<prefix>attention_mask`, so one example can carry several
    sequences (a verifier's evaluation prompt and the generation sequence of its LM regulariser).
    """
    batch: dict[str, torch.Tensor] = {}
    for key in examples[0]:
        values = [e[key] for e in examples]
        if not isinstance(values[0], list):
            batch[key] = torch.tensor(values)
            continue
        width = max(len(v) for v in values)
        fill = IGNORE if key.endswith(("labels", "targets")) else pad_id
        batch[key] = torch.tensor([v + [fill] * (width - len(v)) for v in values])
        if key.endswith("input_ids"):
            mask = key.removesuffix("input_ids") + "attention_mask"
            batch[mask] = torch.tensor([[1] * len(v) + [0] * (width - len(v)) for v in values])
    return batch


def target_tokens(example: dict) -> int:
    """Tokens the LM loss is taken on: those of every `*labels` field that are not IGNORE."""
    return sum(t != IGNORE for key, v in example.items() if key.endswith("labels") for t in v)


def length(example: dict) -> int:
    """The longest sequence an example holds."""
    return max(len(v) for key, v in example.items() if key.endswith("input_ids"))


class StepBatches(Dataset):
    """Micro-batches of one data-parallel rank; item (epoch, j) is the j-th micro-batch of that epoch."""

    def __init__(
        self,
        examples: list[dict],
        *,
        global_batch_size: int,
        micro_batch_size: int,
        world_size: int,
        rank: int,
        seed: int,
        pad_id: int,
        pack_length: int | None = None,
    ):
        """`pack_length`: pack each micro-batch into rows of this many tokens (data.packing); None pads."""
        per_pass = micro_batch_size * world_size
        if global_batch_size % per_pass:
            raise ConfigError(
                f"trainer.global_batch_size={global_batch_size} must be a multiple of "
                f"trainer.micro_batch_size={micro_batch_size} x {world_size} devices"
            )
        if len(examples) < global_batch_size:
            raise ConfigError(
                f"trainer.global_batch_size={global_batch_size} exceeds the {len(examples)} training examples"
            )
        self.examples, self.seed, self.pad_id, self.pack_length = examples, seed, pad_id, pack_length
        self.global_batch, self.micro_batch = global_batch_size, micro_batch_size
        self.world_size, self.rank = world_size, rank
        self.accumulation = global_batch_size // per_pass
        self.steps_per_epoch = len(examples) // global_batch_size  # the last partial step is dropped
        self._tokens = [target_tokens(e) for e in examples]
        self._lengths = [length(e) for e in examples]
        self._plan_epoch: int | None = None
        self._plan: list[tuple[list[int], int]] = []

    def __len__(self) -> int:
        return self.steps_per_epoch * self.accumulation

    def _make_plan(self, epoch: int) -> list[tuple[list[int], int]]:
        order = list(range(len(self.examples)))
        random.Random(f"{self.seed}/{epoch}").shuffle(order)
        plan = []
        for step in range(self.steps_per_epoch):
            chosen = order[step * self.global_batch : (step + 1) * self.global_batch]
            step_tokens = sum(self._tokens[i] for i in chosen)
            parts = self.world_size * self.accumulation
            if self.pack_length:  # micro-batches of equal token counts, packed in __getitem__
                micro = deal(chosen, self._lengths, parts)
            else:  # similar lengths in one micro-batch waste less padding; the step's set is unchanged
                chosen.sort(key=lambda i: self._lengths[i])
                micro = [chosen[m * self.micro_batch : (m + 1) * self.micro_batch] for m in range(parts)]
            plan += [(indices, step_tokens) for indices in micro[self.rank :: self.world_size]]
        return plan

    def __getitem__(self, key: tuple[int, int]) -> dict[str, torch.Tensor]:
        epoch, j = key
        if epoch != self._plan_epoch:
            self._plan, self._plan_epoch = self._make_plan(epoch), epoch
        indices, step_tokens = self._plan[j]
        chosen = [self.examples[i] for i in indices]
        if self.pack_length:
            batch = pack_batch(chosen, self.pack_length, self.pad_id)
        else:
            batch = pad_batch(chosen, self.pad_id)
        batch["step_tokens"] = torch.tensor(step_tokens)
        return batch


class EpochSampler(Sampler):
    """Yields (epoch, j) keys; the first epoch after a resume starts at `start`."""

    def __init__(self, length: int, start: int = 0):
        self.length, self.start, self.epoch = length, start, 0

    def set_epoch(self, epoch: int) -> None:  # Lightning calls this before each epoch
        self.epoch = epoch

    def __len__(self) -> int:
        return self.length

    def __iter__(self) -> Iterator[tuple[int, int]]:
        start, self.start = self.start, 0
        return iter([(self.epoch, j) for j in range(start, self.length)])
