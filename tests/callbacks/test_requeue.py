"""The preemption callback, under a simulated srun: a signal mid-accumulation checkpoints at the next optimizer
step, asks the scheduler to requeue, stops before export, and the rerun ends with the uninterrupted weights."""

import os
import signal

import pytest
import torch
from lightning.pytorch.callbacks import Callback
from safetensors.torch import load_file

import callbacks.requeue
from tests.test_sft_e2e import train

SRUN = {
    "SLURM_JOB_ID": "77",
    "SLURM_JOB_NAME": "mathlit",
    "SLURM_NTASKS": "1",
    "SLURM_NTASKS_PER_NODE": "1",
    "SLURM_PROCID": "0",
    "SLURM_LOCALID": "0",
    "SLURM_NODEID": "0",
    "SLURM_NODELIST": "localhost",
}


class Preempt(Callback):
    """What the scheduler does before the time limit: SIGUSR1, here at a given micro-batch."""

    def __init__(self, batch: int):
        self.batch = batch

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if batch_idx == self.batch:
            os.kill(os.getpid(), signal.SIGUSR1)


def test_signal_checkpoints_at_the_next_step_requeues_and_resumes_exactly(tmp_path, tokenizer, monkeypatch):
    whole = train(tmp_path / "whole", tokenizer, every=100)
    requeues = []
    monkeypatch.setattr(callbacks.requeue.subprocess, "run", lambda cmd, check: requeues.append(cmd))
    for key, value in SRUN.items():
        monkeypatch.setenv(key, value)
    # Micro-batches of 4, global batch 8: batch 2 opens step 2, which ends after batch 3.
    with pytest.raises(SystemExit):
        train(tmp_path / "resumed", tokenizer, every=100, callbacks=[Preempt(batch=2)])
    assert requeues == [["scontrol", "requeue", "77"]]
    assert torch.load(tmp_path / "resumed" / "checkpoints" / "last.ckpt", weights_only=False)["global_step"] == 2
    assert not (tmp_path / "resumed" / "hf").exists()
    assert signal.getsignal(signal.SIGUSR1) is signal.SIG_DFL  # the handler is gone with the trainer

    resumed = train(tmp_path / "resumed", tokenizer, every=100)
    assert resumed.global_step == 8
    a, b = load_file(whole.hf_dir / "model.safetensors"), load_file(resumed.hf_dir / "model.safetensors")
    assert all(torch.equal(a[name], b[name]) for name in a)
