"""trainer.compile=true: the trained LM's forward through torch.compile in training steps.

The LM's forward is compiled once the strategy has set the model up (a compiled bound method: the same
parameters, so checkpoints and the exported hf/ keep their names). For each training batch it stands in for the
eager forward as an instance attribute, and is removed after the batch (and on any error), so whatever else runs
the model (validation, sampling between RFT rounds with generate's new shape at every decoding step, the test
evaluation) runs it eagerly instead of recompiling. The module's hooks (FSDP2's) stay outside the graph."""

import lightning as L
import torch
from lightning.pytorch.callbacks import Callback


class CompileModel(Callback):
    def __init__(self):
        self.compiled = None

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.compiled = torch.compile(pl_module.model.forward)

    def on_train_batch_start(self, trainer: L.Trainer, pl_module: L.LightningModule, *args) -> None:
        pl_module.model.forward = self.compiled

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, *args) -> None:
        eager(pl_module.model)

    def on_exception(self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException) -> None:
        eager(pl_module.model)


def eager(model: torch.nn.Module) -> None:
    """The class's own forward again."""
    vars(model).pop("forward", None)
