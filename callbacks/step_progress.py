"""Progress bars that count optimizer steps, not micro-batches: with gradient accumulation (a 7B preset takes
32 micro-batches per step) Lightning's bars count the micro-batches, which matches nothing in the config."""

from lightning.pytorch.callbacks import RichProgressBar, TQDMProgressBar


class _CountSteps:
    @property
    def total_train_batches(self) -> int | float:
        batches = self.trainer.num_training_batches
        return batches if batches == float("inf") else batches // self.trainer.accumulate_grad_batches

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx: int) -> None:
        accumulation = trainer.accumulate_grad_batches
        if (batch_idx + 1) % accumulation == 0:  # an optimizer step ended: the bar shows steps done this epoch
            super().on_train_batch_end(trainer, pl_module, outputs, batch, (batch_idx + 1) // accumulation - 1)


class StepTQDMProgressBar(_CountSteps, TQDMProgressBar):
    pass


class StepRichProgressBar(_CountSteps, RichProgressBar):
    pass
