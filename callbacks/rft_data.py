"""Regenerate RFT data with the weights being trained, between stages or every N epochs.

At the end of a stage (or of every N-th epoch) global rank 0 hands the current weights to the
sampler, samples k paths per training question, filters them and writes the augmented set; every
rank then reads the same file and the DataModule trains on original + augmented data from the
next stage (or epoch) on. Within a stage that needs `Trainer(reload_dataloaders_every_n_epochs=1)`.
"""

from pathlib import Path

import lightning as L
from lightning.pytorch.callbacks import Callback

from mathlit.data.formats import Example, load_examples
from mathlit.datagen.rft import RFTDataGenerator
from mathlit.models.gather import gathered_model


class RFTDataCallback(Callback):
    def __init__(self, generator: RFTDataGenerator, name: str, every_n_epochs: int | None = None):
        self.generator, self.name, self.every_n_epochs = generator, name, every_n_epochs
        self.path: Path | None = None
        self.report: dict | None = None
        self.augmented: list[Example] = []

    def on_fit_end(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        if self.every_n_epochs is None:
            self.regenerate(trainer, module, self.name)

    def on_train_epoch_end(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        if self.every_n_epochs and (trainer.current_epoch + 1) % self.every_n_epochs == 0:
            self.regenerate(trainer, module, f"{self.name}-epoch{trainer.current_epoch + 1}")
            trainer.datamodule.set_augmented(self.augmented)  # the next epoch's loader is rebuilt from it

    def regenerate(self, trainer: L.Trainer, module: L.LightningModule, name: str) -> None:
        path = None
        model = gathered_model(trainer, module)  # every rank joins the gather of sharded weights
        if trainer.is_global_zero:
            path, data = self.generator.generate(model, trainer.global_step, name)
            self.report = data.report
        path = trainer.strategy.broadcast(str(path) if path else None)  # every rank reads the same file
        self.path = Path(path)
        self.augmented, _ = load_examples(self.path, "rft augmented data") if self.path.stat().st_size else ([], [])
