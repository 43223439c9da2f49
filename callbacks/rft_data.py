"""Regenerate RFT data with the weights being trained, between stages or every N epochs.

At the end of a stage (or of every N-th epoch) the generator samples k paths per training question with
the current weights (every rank its share), filters them and writes the augmented set; every rank then reads
the same file. This callback says when; the generator (mathlit.datagen.rft) says how. Between stages the
task trains the next stage on it; within a stage (`every_n_epochs`) the DataModule trains on its own
examples plus these from the next epoch on: the callback has the Trainer rebuild its train loader every N
epochs, and the file and the step it began at are saved with the checkpoint (the DataModule's state), so a
resumed run trains on it too.
"""

import logging
from pathlib import Path
from typing import Protocol

import lightning as L
from lightning.pytorch.callbacks import Callback

log = logging.getLogger(__name__)


class DataGenerator(Protocol):
    """What regenerates the data (mathlit.datagen.rft.RFTDataGenerator)."""

    def regenerate(
        self, trainer: L.Trainer, module: L.LightningModule, name: str, end_of_stage: bool
    ) -> tuple[Path, dict]:
        """Every rank: the newest data file (the same on every rank) and its report."""

    def read(self, path: Path) -> list:
        """The examples of a data file it wrote."""


class RFTDataCallback(Callback):
    def __init__(self, generator: DataGenerator, name: str, every_n_epochs: int | None = None):
        self.generator, self.name, self.every_n_epochs = generator, name, every_n_epochs
        self.path: Path | None = None
        self.report: dict | None = None
        self.augmented: list = []  # the newest data's examples

    def setup(self, trainer: L.Trainer, module: L.LightningModule, stage: str) -> None:
        if self.every_n_epochs:
            # Lightning builds the train loader once unless told otherwise: then later epochs would
            # train on the old data.
            trainer.reload_dataloaders_every_n_epochs = self.every_n_epochs
            if trainer.max_steps <= 0:
                log.warning(
                    "rft.every_n_epochs: the lr schedule is planned on epochs of the stage's own data; regenerated "
                    "data makes later epochs longer, and their extra steps run at the final lr (set trainer.max_steps)"
                )

    def on_fit_end(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        if self.every_n_epochs is None:
            self._load(*self.generator.regenerate(trainer, module, self.name, end_of_stage=True))

    def on_train_epoch_end(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        if self.every_n_epochs and (trainer.current_epoch + 1) % self.every_n_epochs == 0:
            name = f"{self.name}-epoch{trainer.current_epoch + 1}"
            self._load(*self.generator.regenerate(trainer, module, name, end_of_stage=False))
            # the next epoch's loader holds it
            trainer.datamodule.set_augmented(self.path, trainer.global_step, trainer.current_epoch + 1)

    def _load(self, path: Path, report: dict | None) -> None:
        self.path, self.report = path, report
        self.augmented = self.generator.read(path)

    def state_dict(self) -> dict:
        return {"path": str(self.path) if self.path else None, "report": self.report}

    def load_state_dict(self, state: dict) -> None:
        if state.get("path"):  # a resumed stage hands the next one the data it last generated
            self._load(Path(state["path"]), state["report"])
