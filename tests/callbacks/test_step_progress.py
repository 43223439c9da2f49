"""The progress bar counts optimizer steps: 8 micro-batches accumulated 2 at a time are 4 steps on the bar."""

import lightning as L
from lightning.pytorch.demos.boring_classes import BoringModel

from callbacks.step_progress import StepTQDMProgressBar


def test_the_bar_counts_optimizer_steps_not_micro_batches(tmp_path):
    bar = StepTQDMProgressBar(refresh_rate=1)
    seen = []

    class Watch(L.Callback):
        def on_train_batch_end(self, trainer, *args):
            seen.append(bar.train_progress_bar.n)

    trainer = L.Trainer(
        default_root_dir=tmp_path,
        max_epochs=1,
        limit_train_batches=8,
        limit_val_batches=0,
        accumulate_grad_batches=2,
        callbacks=[bar, Watch()],
        logger=False,
        enable_checkpointing=False,
        accelerator="cpu",
    )
    trainer.fit(BoringModel())
    assert trainer.global_step == 4 and bar.train_progress_bar.total == 4
    assert seen == [0, 1, 1, 2, 2, 3, 3, 4]  # moves once per optimizer step
