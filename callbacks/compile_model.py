"""trainer.compile=true: the trained LM's forward through torch.compile in training steps.

Compiled in place (nn.Module.compile) once the strategy has set the model up, so checkpoints and the exported
hf/ keep their parameter names. The compiled forward is switched on for each training batch and off after it
(and on any error), so whatever else runs the model (validation, sampling between RFT rounds with generate's
new shape at every decoding step, the test evaluation) runs it eagerly instead of recompiling."""

import lightning as L
from lightning.pytorch.callbacks import Callback


class CompileModel(Callback):
    def __init__(self):
        self.compiled = None

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        pl_module.model.compile()
        self.compiled = pl_module.model._compiled_call_impl  # what nn.Module.compile set
        pl_module.model._compiled_call_impl = None

    def on_train_batch_start(self, trainer: L.Trainer, pl_module: L.LightningModule, *args) -> None:
        pl_module.model._compiled_call_impl = self.compiled

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, *args) -> None:
        pl_module.model._compiled_call_impl = None

    def on_exception(self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException) -> None:
        pl_module.model._compiled_call_impl = None
