"""Signals during training, each a checkpoint at the next optimizer step. Preemption on SLURM: the scheduler's
warning signal (`sbatch --signal=SIGUSR1@120`) becomes that checkpoint and a requeue of the job; the requeued job
resumes from it. SIGTERM and SIGINT: that checkpoint, then the run stops with a failure status.

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

from callbacks.interrupted import Interrupted

log = logging.getLogger(__name__)


def slurm_job_id() -> str:
    """The id `scontrol requeue` takes: <array job>_<task> for an array task, else the job id."""
    array = os.environ.get("SLURM_ARRAY_JOB_ID")
    return f"{array}_{os.environ['SLURM_ARRAY_TASK_ID']}" if array else os.environ["SLURM_JOB_ID"]


class CheckpointOnSignal(Callback):
    """On one of `signums`: a checkpoint to `last` at the next optimizer step, then `stop(trainer, signum)`."""

    def __init__(self, last: Path, signums: tuple[signal.Signals, ...]):
        self.last, self.signums = last, signums
        self.received: signal.Signals | None = None
        self.stepped = False
        self.previous: dict = {}

    # Installed after Lightning's signal connector (set up between setup() and on_train_start), which restores
    # the handlers it found when the trainer ends.
    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.previous = {signum: signal.signal(signum, self._on_signal) for signum in self.signums}

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._restore()
        # A signal after the last optimizer step (during the last validation, say) is still honoured, not lost.
        if trainer.strategy.reduce_boolean_decision(self.received is not None, all=False):
            trainer.save_checkpoint(self.last)
            self.stop(trainer, self.received or self.signums[0])

    def on_exception(self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException) -> None:
        self._restore()

    def _restore(self) -> None:
        for signum, handler in self.previous.items():
            signal.signal(signum, handler)
        self.previous = {}

    def _on_signal(self, signum, frame) -> None:
        if self.received is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt  # a second Ctrl-C: stop now, without the checkpoint
        self.received = signal.Signals(signum)

    def on_before_optimizer_step(self, trainer, pl_module, optimizer) -> None:
        self.stepped = True

    def on_train_batch_end(self, trainer: L.Trainer, pl_module, outputs, batch, batch_idx: int) -> None:
        if not self.stepped:  # inside a gradient-accumulation cycle: not a resumable point
            return
        self.stepped = False
        # Ranks receive the signal at slightly different times: stop together, at the same step.
        if not trainer.strategy.reduce_boolean_decision(self.received is not None, all=False):
            return
        trainer.save_checkpoint(self.last)
        self.stop(trainer, self.received or self.signums[0])

    def stop(self, trainer: L.Trainer, signum: signal.Signals) -> None:
        raise NotImplementedError


class RequeueOnSignal(CheckpointOnSignal):
    def __init__(self, last: Path, signum: signal.Signals = signal.SIGUSR1):
        super().__init__(last, (signum,))

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        super().on_train_start(trainer, pl_module)
        log.info(
            "on %s: checkpoint at the next optimizer step and requeue job %s", self.signums[0].name, slurm_job_id()
        )

    def stop(self, trainer: L.Trainer, signum: signal.Signals) -> None:
        if trainer.is_global_zero:
            log.info("%s at step %d: saved %s, requeueing", signum.name, trainer.global_step, self.last)
            subprocess.run(["scontrol", "requeue", slurm_job_id()], check=True)
        # The scheduler ends this run now; nothing after fit (export, evaluation) may run on unfinished weights.
        raise SystemExit(0)


class StopOnSignal(CheckpointOnSignal):
    """SIGTERM (a scheduler, `kill`, CI's timeout) or SIGINT (Ctrl-C): the run stops with a failure status that
    names the step it saved, instead of Lightning's SIGTERM handling, which ends the run with status 0 and saves
    nothing. A second Ctrl-C stops at once."""

    def __init__(self, last: Path):
        super().__init__(last, (signal.SIGTERM, signal.SIGINT))

    def stop(self, trainer: L.Trainer, signum: signal.Signals) -> None:
        raise Interrupted(signum, f"stopped by {signum.name} at step {trainer.global_step}: saved {self.last}")
