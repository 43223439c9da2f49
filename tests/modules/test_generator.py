"""Generator SFT: it learns, and its gradient is that of the token mean over the whole optimizer step."""

import copy

import lightning as L
import pytest
import torch
from lightning.pytorch.callbacks import Callback

from mathlit.data.batching import StepBatches, pad_batch
from mathlit.data.datamodule import MathDataModule
from mathlit.models.build import build_model
from mathlit.modules.generator import response_loss_sum
from mathlit.training import fit_stage, sft_parts
from tests.conftest import MICRO_MODEL, make_cfg


def setup(tmp_path, tokenizer, *overrides):
    cfg = make_cfg("debug=fast", *MICRO_MODEL, "trainer.gradient_clip_val=0", *overrides, run_dir=tmp_path)
    L.seed_everything(cfg.seed)
    return (cfg, *sft_parts(cfg, tokenizer))


def test_loss_falls_on_a_fixed_batch(tokenizer):
    cfg = make_cfg(*MICRO_MODEL)
    torch.manual_seed(0)
    model = build_model(cfg.model, tokenizer)
    data = MathDataModule(cfg.data, tokenizer, global_batch_size=8, micro_batch_size=8, seed=0)
    data.setup()
    batch = pad_batch(data.train_set[:8], data.pad_id)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(40):
        loss_sum, tokens = response_loss_sum(model, batch)
        (loss_sum / tokens).backward()
        optimizer.step()
        optimizer.zero_grad()
        losses.append(float(loss_sum / tokens))
    assert losses[-1] < 0.5 * losses[0]


class FirstGradients(Callback):
    """Keeps a copy of the gradients of the first optimizer step (accumulation complete, before clipping)."""

    def on_before_optimizer_step(self, trainer, module, optimizer):
        if trainer.global_step == 0:
            self.grads = {n: p.grad.detach().clone() for n, p in module.model.named_parameters()}


@pytest.mark.parametrize("micro", [1, 2, 8])
def test_accumulated_gradient_is_the_token_mean_over_the_step(tmp_path, tokenizer, micro):
    cfg, module, data = setup(
        tmp_path, tokenizer, "trainer.max_steps=1", "trainer.global_batch_size=8", f"trainer.micro_batch_size={micro}"
    )
    module.configure_model()
    initial = copy.deepcopy(module.model)
    recorder = FirstGradients()
    fit_stage(cfg, module, data, tmp_path, callbacks=[recorder])

    # The same 8 examples in one batch, loss = (sum of token losses) / (number of target tokens).
    whole_step = StepBatches(
        data.train_set, global_batch_size=8, micro_batch_size=8, world_size=1, rank=0, seed=cfg.seed, pad_id=data.pad_id
    )
    batch = whole_step[(0, 0)]
    loss_sum, tokens = response_loss_sum(initial, batch)
    assert int(tokens) == int(batch["step_tokens"])
    (loss_sum / tokens).backward()
    for name, param in initial.named_parameters():
        torch.testing.assert_close(recorder.grads[name], param.grad, rtol=1e-4, atol=1e-7)
