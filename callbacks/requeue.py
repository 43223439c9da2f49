"""Preemption on SLURM: the scheduler's warning signal (`sbatch --signal=SIGUSR1@120`) becomes a checkpoint
at the next optimizer step and a requeue of the job; the requeued job resumes from that checkpoint.

Lightning's own SLURM auto-requeue saves from inside the signal handler, which can land in the middle of a
gradient-accumulation cycle or between an optimizer step and the step counter, so the resumed run would not
end with the weights an uninterrupted run has. Here the handler only sets a flag; the checkpoint is written
where the periodic ones are (after an optimizer step), so resuming is as exact as after any checkpoint.
"""

import logging
import os
import signal
import subprocess
from pathlib import Path

import lightning as L
from lightning.pytorch.callbacks import Callback

log = logging.getLogger(__name__)


def slurm_job_id() -> str:
    """The id `scontrol requeue` takes: <array job>_<task> for an array task, else the job id."""
    array = os.environ.get("SLURM_ARRAY_JOB_ID")
    return f"{array}_{os.environ['SLURM_ARRAY_TASK_ID']}" if array else os.environ["SLURM_JOB_ID"]


class RequeueOnSignal(Callback):
    def __init__(self, last: Path, signum: signal.Signals = signal.SIGUSR1):
        self.last, self.signum = last, signum
        self.signalled = self.stepped = False

    # Installed after Lightning's signal connector (set up between setup() and on_train_start), which restores
    # the handlers it found when the trainer ends.
    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.previous = signal.signal(self.signum, self._on_signal)
        log.info("on %s: checkpoint at the next optimizer step and requeue job %s", self.signum.name, slurm_job_id())

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        signal.signal(self.signum, self.previous)

    def on_exception(self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException) -> None:
        signal.signal(self.signum, self.previous)

    def _on_signal(self, signum, frame) -> None:
        self.signalled = True

    def on_before_optimizer_step(self, trainer, pl_module, optimizer) -> None:
        self.stepped = True

    def on_train_batch_end(self, trainer: L.Trainer, pl_module, outputs, batch, batch_idx: int) -> None:
        if not self.stepped:  # inside a gradient-accumulation cycle: not a resumable point
            return
        self.stepped = False
        # Ranks receive the signal at slightly different times: stop together, at the same step.
        if not trainer.strategy.reduce_boolean_decision(self.signalled, all=False):
            return
        trainer.save_checkpoint(self.last)
        if trainer.is_global_zero:
            log.info("%s at step %d: saved %s, requeueing", self.signum.name, trainer.global_step, self.last)
            subprocess.run(["scontrol", "requeue", slurm_job_id()], check=True)
        # The scheduler ends this run now; nothing after fit (export, evaluation) may run on unfinished weights.
        raise SystemExit(0)
