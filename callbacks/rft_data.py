"""Regenerate RFT data with the weights being trained, between stages or every N epochs.

At the end of a stage (or of every N-th epoch) global rank 0 hands the current weights to the
generator, which samples k paths per training question, filters them and writes the augmented set;
every rank then reads the same file. Between stages the task trains the next stage on it; within a
stage (`every_n_epochs`) the DataModule trains on its own examples plus these from the next epoch on:
the callback has the Trainer rebuild its train loader every N epochs, and the file and the step it
began at are saved with the checkpoint (the DataModule's state), so a resumed run trains on it too.
"""

import logging
from pathlib import Path

import lightning as L
from lightning.pytorch.callbacks import Callback

from mathlit.data.formats import Example, load_examples
from mathlit.datagen.filters import RFTData
from mathlit.datagen.rft import RFTDataGenerator
from mathlit.models.gather import gathered_model
from mathlit.models.release import finish_stage

log = logging.getLogger(__name__)


class RFTDataCallback(Callback):
    def __init__(self, generator: RFTDataGenerator, name: str, every_n_epochs: int | None = None):
        self.generator, self.name, self.every_n_epochs = generator, name, every_n_epochs
        self.path: Path | None = None
        self.report: dict | None = None
        self.augmented: list[Example] = []

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
            finish_stage(trainer)  # the engine needs the GPU memory the optimizer state holds
            self.regenerate(trainer, module, self.name)

    def on_train_epoch_end(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        if self.every_n_epochs and (trainer.current_epoch + 1) % self.every_n_epochs == 0:
            self.regenerate(trainer, module, f"{self.name}-epoch{trainer.current_epoch + 1}")
            # the next epoch's loader holds it
            trainer.datamodule.set_augmented(self.path, trainer.global_step, trainer.current_epoch + 1)

    def regenerate(self, trainer: L.Trainer, module: L.LightningModule, name: str) -> None:
        path = None
        model = gathered_model(trainer, module)  # every rank joins the gather of sharded weights
        if trainer.is_global_zero:
            path, data = self.generator.generate(model, trainer.global_step, name)
            self.report = data.report
        path = trainer.strategy.broadcast(str(path) if path else None)  # every rank reads the same file
        self.report = trainer.strategy.broadcast(self.report)
        self._load(Path(path))

    @property
    def data(self) -> RFTData:
        """The newest data: what the next stage trains on besides the original examples."""
        return RFTData(self.augmented, self.report)

    def _load(self, path: Path) -> None:
        self.path = path
        self.augmented, _ = load_examples(path, "rft augmented data")

    def state_dict(self) -> dict:
        return {"path": str(self.path) if self.path else None, "report": self.report}

    def load_state_dict(self, state: dict) -> None:
        if state.get("path"):  # a resumed stage hands the next one the data it last generated
            self.report = state["report"]
            self._load(Path(state["path"]))
