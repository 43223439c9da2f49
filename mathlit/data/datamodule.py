"""The DataModule every training stage shares: splits -> encoded examples -> step-planned batches.

What an example becomes (SFT prompt + target, verifier candidate, preference pair) is the `encode`
function a stage passes in; loading, splitting, batching and exact resumption live here once.
"""

import logging
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import lightning as L
from torch.utils.data import DataLoader
from transformers import PreTrainedTokenizerBase

from mathlit.config import DataConfig
from mathlit.data.batching import EpochSampler, StepBatches, length, pad_batch
from mathlit.data.formats import Example, load_examples
from mathlit.data.splits import Splits, load_splits
from mathlit.data.tokenize import encode_sft, format_prompt

log = logging.getLogger(__name__)

Encoder = Callable[[list[Example]], list[dict]]


def sft_encoder(cfg: DataConfig, tokenizer: PreTrainedTokenizerBase) -> Encoder:
    """Examples -> prompt (masked) + reference solution + EOS."""

    def encode(examples: list[Example]) -> list[dict]:
        prompts = [format_prompt(cfg.prompt_template, e.question) for e in examples]
        return encode_sft(tokenizer, prompts, [e.solution for e in examples])

    return encode


class Augmented(NamedTuple):
    """Examples added to a stage's own from an optimizer step (the first of an epoch) on."""

    path: str
    since_step: int
    since_epoch: int


class ResumableLoader(DataLoader):
    """A train loader that Lightning saves and restores with the checkpoint.

    Lightning builds the loader before it restores a checkpoint and restores a loader's position only
    through state_dict/load_state_dict. The position saved is the number of micro-batches the global
    step implies since the current training data began (not the number iterated, which Lightning's
    prefetching runs ahead of); that data's first epoch is `first_epoch`.
    """

    def __init__(self, batches: StepBatches, consumed: Callable[[], int], first_epoch: int = 0):
        super().__init__(batches, batch_size=None, sampler=EpochSampler(len(batches)))
        self._consumed, self.first_epoch = consumed, first_epoch

    def state_dict(self) -> dict:
        return {"consumed_micro_batches": self._consumed()}

    def load_state_dict(self, state: dict) -> None:
        epochs, self.sampler.start = divmod(state["consumed_micro_batches"], len(self.sampler))
        self.sampler.epoch = self.first_epoch + epochs


class MathDataModule(L.LightningDataModule):
    def __init__(
        self,
        cfg: DataConfig,
        tokenizer: PreTrainedTokenizerBase,
        *,
        global_batch_size: int,
        micro_batch_size: int,
        seed: int,
        encode: Encoder | None = None,
        encode_val: Encoder | None = None,
        splits: Splits | None = None,
        pack: bool = True,
        context: int | None = None,
    ):
        """`pack=False` keeps padding whatever data.packing says (the verifier's multi-sequence examples).
        `context`: the model's context in tokens; examples longer than it are dropped like those over
        data.max_length (never trained on past the positions the model has)."""
        super().__init__()
        self.cfg, self.tokenizer, self.seed = cfg, tokenizer, seed
        self.max_length, self.length_limit = cfg.max_length, f"data.max_length={cfg.max_length} tokens"
        if context is not None and context < cfg.max_length:
            self.max_length, self.length_limit = (
                context,
                f"{context} tokens, the model's context (data.max_length={cfg.max_length})",
            )
        self.global_batch_size, self.micro_batch_size = global_batch_size, micro_batch_size
        self.encode = encode or sft_encoder(cfg, tokenizer)
        self.encode_val = encode_val or self.encode  # e.g. pairs to train on, single candidates to validate
        self.splits = splits
        self.packing = cfg.packing and pack
        self.train_set: list[dict] | None = None
        self.val_set: list[dict] = []
        self.own_examples: list[Example] | None = None  # the stage's training examples, before any augmentation
        self.augmented: Augmented | None = None
        # An epoch of the stage's own data: what the lr schedule plans with, the same in a resumed run
        # (epochs with augmented data are longer).
        self.planned_steps_per_epoch: int | None = None

    @property
    def pad_id(self) -> int:
        return self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else self.tokenizer.eos_token_id

    def _encode(self, examples: list[Example], split: str) -> list[dict]:
        encoded = (self.encode if split == "train" else self.encode_val)(examples)
        kept = [e for e in encoded if length(e) <= self.max_length]
        if len(kept) < len(encoded):
            dropped = len(encoded) - len(kept)
            log.warning("dropped %d of %d %s examples longer than %s", dropped, len(encoded), split, self.length_limit)
            self.splits.report[f"{split}_too_long"] = dropped
        return kept

    def set_augmented(self, path: str | Path, since_step: int, since_epoch: int) -> None:
        """Train on the stage's own examples plus those in `path` (a data round's augmented.jsonl) from
        optimizer step `since_step`, the start of epoch `since_epoch`, on; the trainer must rebuild its train
        loader then to see them. Saved with the checkpoint: a resumed run trains on the same data, in place."""
        self.setup("fit")
        extra, _ = load_examples(path, "rft augmented data")
        self.augmented = Augmented(str(path), since_step, since_epoch)
        self.splits.train = self.own_examples + extra
        self.splits.report["rft_augmented"] = len(extra)
        self.train_set = None
        self.setup("fit")

    def state_dict(self) -> dict:
        return {"augmented": self.augmented._asdict()} if self.augmented else {}

    def load_state_dict(self, state: dict) -> None:
        if state.get("augmented"):
            self.set_augmented(**state["augmented"])

    def setup(self, stage: str | None = None) -> None:
        if self.train_set is not None:
            return
        if self.splits is None:
            self.splits = load_splits(self.cfg)
        if self.own_examples is None:
            self.own_examples = list(self.splits.train)
        self.train_set = self._encode(self.splits.train, "train")
        self.val_set = self._encode(self.splits.val, "val") if self.splits.val else []
        if self.planned_steps_per_epoch is None:
            self.planned_steps_per_epoch = self.steps_per_epoch

    @property
    def steps_per_epoch(self) -> int:
        return len(self.train_set) // self.global_batch_size

    def step_batches(self) -> StepBatches:
        return StepBatches(
            self.train_set,
            global_batch_size=self.global_batch_size,
            micro_batch_size=self.micro_batch_size,
            world_size=self.trainer.world_size,
            rank=self.trainer.global_rank,
            seed=self.seed,
            pad_id=self.pad_id,
            pack_length=self.max_length if self.packing else None,
        )

    def train_dataloader(self) -> DataLoader:
        batches = self.step_batches()

        def consumed() -> int:  # micro-batches of the current data when a checkpoint is saved, maybe after a change
            since = self.augmented.since_step if self.augmented else 0
            return (self.trainer.global_step - since) * batches.accumulation

        return ResumableLoader(batches, consumed, self.augmented.since_epoch if self.augmented else 0)

    def val_dataloader(self) -> DataLoader:
        shard = self.val_set[self.trainer.global_rank :: self.trainer.world_size]
        chunks = [shard[i : i + self.micro_batch_size] for i in range(0, len(shard), self.micro_batch_size)]
        return DataLoader(chunks, batch_size=None, collate_fn=lambda chunk: pad_batch(chunk, self.pad_id))
