"""trainer.compile=true: the trained LM's forward through torch.compile during training (and its validation).

Compiled in place (nn.Module.compile) once the strategy has set the model up, so checkpoints and the exported
hf/ keep their parameter names; undone when training ends, so that sampling the trained model in memory
(generate, with a new shape at every decoding step) runs eagerly instead of recompiling."""

import lightning as L
from lightning.pytorch.callbacks import Callback


class CompileModel(Callback):
    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        pl_module.model.compile()

    def on_fit_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        pl_module.model._compiled_call_impl = None  # what nn.Module.compile set: eager calls again
