"""Sharded training on CPU processes (gloo): FSDP2 and DDP over 2 ranks end where one process does.

Five training subprocesses: one process (trained and untrained) once, each strategy, and RFT under FSDP2."""

import subprocess
import sys

import pytest
from safetensors.torch import load_file

from tests.conftest import DATA, MICRO_MODEL, ROOT


def train(run_dir, *overrides):
    command = [sys.executable, "-m", "mathlit", "debug=fast", *MICRO_MODEL, "trainer.accelerator=cpu"]
    command += ["trainer.gradient_clip_val=0", f"paths.data={DATA}", f"hydra.run.dir={run_dir}", *overrides]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    weights = run_dir / "hf" / "model.safetensors"
    return load_file(weights) if weights.exists() else None


@pytest.fixture(scope="module")
def one_process(tmp_path_factory):
    """The weights one process trains, and the initial ones: the reference for every strategy."""
    out = tmp_path_factory.mktemp("one_process")
    initial = train(out / "initial", "trainer.devices=1", "trainer.max_steps=0")
    return train(out / "single", "trainer.devices=1"), initial


def test_one_process_training_moves_the_weights(one_process):
    single, initial = one_process  # the comparisons below are not vacuous
    assert max((single[n] - initial[n]).abs().max() for n in single) > 1e-3


@pytest.mark.parametrize("strategy", ["fsdp2", "ddp"])
def test_two_ranks_train_the_same_weights_as_one_process(tmp_path, strategy, one_process):
    single, _ = one_process
    sharded = train(tmp_path / strategy, f"trainer={strategy}", "trainer.devices=2")
    assert single.keys() == sharded.keys()
    for name, weight in single.items():
        assert (weight - sharded[name]).abs().max() < 1e-4, name


def test_rft_sampling_callback_gathers_sharded_weights_on_rank_zero(tmp_path):
    # Sampling between stages runs on rank 0 with a full copy; the other rank must join the gather.
    args = ["task=rft", "trainer=fsdp2", "trainer.devices=2", "rft.k=2", "rft.max_questions=8"]
    train(tmp_path, *args, "rft.max_new_tokens=32")
    report = (tmp_path / "metrics.json").read_text()
    assert '"stage": "rft1"' in report
    assert (tmp_path / "rft" / "round1" / "samples" / "samples.jsonl").read_text().count("\n") == 16
