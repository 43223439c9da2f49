"""rft.every_n_epochs: data regenerated at the end of an epoch is what the next epoch trains on, and a
resumed run trains on it too (iterative RFT inside one stage)."""

import json

import lightning as L
import pytest
import torch
from lightning.pytorch.callbacks import Callback
from safetensors.torch import load_file

from callbacks.rft_data import RFTDataCallback
from mathlit.data.splits import load_splits
from mathlit.data.tokenize import format_prompt
from mathlit.datagen.rft import RFTDataGenerator
from mathlit.sampling.base import Completion
from mathlit.sampling.hf import HFSampler
from mathlit.training import fit_stage, sft_parts
from tests.conftest import MICRO_MODEL, make_cfg

MARK = "again, path"


@pytest.fixture
def correct_paths(monkeypatch):
    """HF sampling that returns the reference solution behind a marker (a random micro model finds no
    correct path): each of the k paths is distinct text, so rft.dedup=false keeps them all."""
    cfg = make_cfg(*ARGS)
    solution = {format_prompt(cfg.data.prompt_template, e.question): e.solution for e in load_splits(cfg.data).train}

    def generate(self, prompts, params):
        paths = [[f"{MARK} {i}: {solution[p]}" for i in range(params.n)] for p in prompts]
        return [[Completion(text, len(text), "stop") for text in texts] for texts in paths]

    monkeypatch.setattr(HFSampler, "generate", generate)


class Probe(Callback):
    """What each epoch trains on: the loader's examples, and how many of its batches hold a marked path."""

    def __init__(self, tokenizer):
        self.tokenizer, self.examples, self.marked = tokenizer, {}, {}

    def on_train_batch_start(self, trainer, module, batch, batch_idx):
        epoch, texts = trainer.current_epoch, self.tokenizer.batch_decode(batch["input_ids"])
        self.examples[epoch] = len(trainer.train_dataloader.dataset.examples)
        self.marked[epoch] = self.marked.get(epoch, 0) + sum(MARK in t for t in texts)


# 16 examples, batch 8: 2 steps per epoch; 8 questions x k=2 distinct paths = 16 new examples per round.
ARGS = [
    "task=rft",
    "debug=fast",
    *MICRO_MODEL,
    "data.max_train_examples=16",
    "trainer.max_steps=-1",
    "trainer.max_epochs=3",
    "trainer.val_every_n_steps=null",
    "trainer.checkpoint_every_n_steps=3",
    "rft.k=2",
    "rft.max_questions=8",
    "rft.dedup=false",
    "rft.every_n_epochs=1",
]


class Crash(Callback):
    def on_train_batch_end(self, trainer, *args):
        if trainer.global_step == 5:
            raise RuntimeError("simulated crash")


def train(run_dir, tokenizer, *callbacks):
    cfg = make_cfg(*ARGS, run_dir=run_dir)
    L.seed_everything(cfg.seed)
    module, data = sft_parts(cfg, tokenizer)
    generator = RFTDataGenerator(cfg, tokenizer, data_questions(cfg), run_dir / "rft")
    regenerate = RFTDataCallback(generator, "round1", cfg.rft.every_n_epochs)
    result = fit_stage(cfg, module, data, run_dir, callbacks=[regenerate, *callbacks])
    return result, regenerate


def data_questions(cfg):
    return load_splits(cfg.data).train[: cfg.rft.max_questions]


def test_the_epoch_after_a_regeneration_trains_on_the_new_paths(tmp_path, tokenizer, correct_paths):
    probe = Probe(tokenizer)
    result, regenerate = train(tmp_path, tokenizer, probe)
    assert probe.examples == {0: 16, 1: 32, 2: 32}  # each round replaces the last: own 16 + 16 new
    assert probe.marked[0] == 0 and probe.marked[1] > 0 and probe.marked[2] > 0
    assert result.global_step == 2 + 4 + 4
    for epoch in (1, 2, 3):
        rows = (tmp_path / "rft" / f"round1-epoch{epoch}" / "augmented.jsonl").read_text().splitlines()
        assert len(rows) == 16 and all(json.loads(r)["solution"].startswith(MARK) for r in rows)
    assert regenerate.path == tmp_path / "rft" / "round1-epoch3" / "augmented.jsonl"


def test_a_run_resumed_after_a_regeneration_trains_on_the_new_data(tmp_path, tokenizer, correct_paths):
    whole, _ = train(tmp_path / "whole", tokenizer)
    with pytest.raises(RuntimeError, match="simulated crash"):
        train(tmp_path / "resumed", tokenizer, Crash())  # last checkpoint: step 3, inside epoch 2
    probe = Probe(tokenizer)
    resumed, regenerate = train(tmp_path / "resumed", tokenizer, probe)
    assert probe.examples == {1: 32, 2: 32} and probe.marked[1] > 0
    assert resumed.global_step == whole.global_step == 10
    a, b = load_file(whole.hf_dir / "model.safetensors"), load_file(resumed.hf_dir / "model.safetensors")
    for name in a:
        torch.testing.assert_close(a[name], b[name], rtol=0, atol=0, msg=name)
    assert regenerate.path == tmp_path / "resumed" / "rft" / "round1-epoch3" / "augmented.jsonl"
