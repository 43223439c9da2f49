"""What a finished training stage gives back before a sampling engine starts (or wakes) on the same GPUs.

Lightning's teardown moves neither the optimizer state nor the parameters of a sharded model (FSDP, FSDP2) off the
GPU, and the RFT callback samples in `on_fit_end`, after that teardown: a vLLM engine asking for its share of the
GPU would find the Adam moments (twice the parameters in fp32) still there. The stage's finished checkpoint is
written first, since it carries that state; then the state goes.
"""

import gc
from pathlib import Path
from weakref import WeakSet

import lightning as L
import torch

_finished: "WeakSet[L.Trainer]" = WeakSet()  # trainers whose stage is finished (checkpoint written, state released)


def finish_stage(trainer: L.Trainer) -> None:
    """Write the stage's finished state (checkpoints/last.ckpt: a re-run with resume=true stops at once), then
    release its optimizer state and gradients. Every rank calls it (the checkpoint gathers sharded state); once per
    trainer: at the end of fit before sampling, and again by fit_stage after fit, which then does nothing."""
    if trainer in _finished:
        return
    trainer.save_checkpoint(Path(trainer.default_root_dir) / "checkpoints" / "last.ckpt")
    release_training_state(trainer)
    _finished.add(trainer)


def release_training_state(trainer: L.Trainer) -> None:
    """Drop every optimizer's state (Adam's moments) and every gradient, and hand the freed blocks back to CUDA.
    The parameters stay: the stage's export (and verifier stages' best-weights reload) still reads them; a
    sharded model keeps 1/N of them on each GPU, an unsharded one was moved to the CPU by Lightning's teardown."""
    for optimizer in trainer.optimizers:
        optimizer.state.clear()
        optimizer.zero_grad(set_to_none=True)
    if trainer.strategy.model is not None:
        for parameter in trainer.strategy.model.parameters():
            parameter.grad = None
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
