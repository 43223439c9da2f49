"""SIGTERM/SIGINT in training (callbacks.requeue.StopOnSignal), with a stand-in trainer: the signal only sets a
flag; the checkpoint and the stop come at the next optimizer step, or at the end of training when the signal came
after the last one. (The whole run, signal to rerun: tests/test_faults.py.)"""

import os
import signal
from unittest.mock import MagicMock

import pytest

from callbacks.interrupted import Interrupted
from callbacks.requeue import StopOnSignal


def trainer(step: int) -> MagicMock:
    stand_in = MagicMock(global_step=step)
    stand_in.strategy.reduce_boolean_decision.side_effect = lambda decision, all: decision
    return stand_in


def test_a_signal_after_the_last_optimizer_step_still_checkpoints_and_stops(tmp_path):
    callback, t = StopOnSignal(tmp_path / "last.ckpt"), trainer(step=8)
    callback.on_train_start(t, None)
    os.kill(os.getpid(), signal.SIGTERM)  # only a flag: nothing is raised here
    with pytest.raises(Interrupted) as stopped:
        callback.on_train_end(t, None)
    assert str(stopped.value) == f"stopped by SIGTERM at step 8: saved {tmp_path / 'last.ckpt'}"
    assert stopped.value.exit_status == 143
    t.save_checkpoint.assert_called_once_with(tmp_path / "last.ckpt")
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # the handlers it found are back


def test_inside_an_accumulation_cycle_the_signal_waits_for_the_optimizer_step(tmp_path):
    callback, t = StopOnSignal(tmp_path / "last.ckpt"), trainer(step=3)
    callback.on_train_start(t, None)
    try:
        os.kill(os.getpid(), signal.SIGINT)
        callback.on_train_batch_end(t, None, None, None, 0)  # a micro-batch without an optimizer step
        t.save_checkpoint.assert_not_called()
        callback.on_before_optimizer_step(t, None, None)
        with pytest.raises(Interrupted, match="stopped by SIGINT at step 3"):
            callback.on_train_batch_end(t, None, None, None, 1)
        t.save_checkpoint.assert_called_once()
    finally:
        callback._restore()
