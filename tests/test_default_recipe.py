"""Regression pin (torchtune style): the default recipe's first losses, so that a silent change in the data,
the prompt masking, the initialisation, the batching or the optimiser schedule fails here, not in a benchmark.

The pinned values come from `python -m mathlit` (tiny_llama on arith, seed 42) stopped after STEPS steps of its
1600-step schedule. If you change the recipe on purpose, re-measure the seed spread (bench/seed_spread.py),
then re-pin these numbers with `pytest tests/test_default_recipe.py -s`, which prints them.
"""

import lightning as L
import pytest
from lightning.pytorch.callbacks import Callback

from mathlit.models.build import load_tokenizer
from mathlit.training import fit_stage, sft_parts
from tests.conftest import make_cfg

STEPS = 40  # halfway through the warm-up: far enough that the loss depends on what is learnt
PINNED = [6.9625, 5.7227, 4.0909, 2.9817]  # the losses of steps 10, 20, 30, 40


class LossesThenStop(Callback):
    """Records each optimizer step's training loss and ends the run after `steps` steps. The lr schedule was
    planned for the recipe's full length before training starts; only then is the step limit lowered
    (`should_stop` would wait for the end of the first epoch)."""

    def __init__(self, steps: int):
        self.steps, self.losses = steps, []

    def on_train_start(self, trainer, module):
        trainer.fit_loop.epoch_loop.max_steps = self.steps

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):
        self.losses.append(float(trainer.callback_metrics["train/loss"]))


def test_default_recipe_losses_are_pinned(tmp_path):
    cfg = make_cfg("trainer.progress_bar=false", run_dir=tmp_path)
    assert (cfg.model.name, cfg.data.name, cfg.trainer.max_steps) == ("tiny_llama", "arith", 1600)
    assert cfg.trainer.global_batch_size == cfg.trainer.micro_batch_size  # one micro-batch per step
    L.seed_everything(cfg.seed, workers=True)
    recorder = LossesThenStop(STEPS)
    fit_stage(cfg, *sft_parts(cfg, load_tokenizer(cfg.model)), tmp_path, callbacks=[recorder])
    assert len(recorder.losses) == STEPS
    pinned = recorder.losses[9::10]
    print("losses:", [round(x, 4) for x in pinned])
    assert pinned == pytest.approx(PINNED, rel=5e-3)
