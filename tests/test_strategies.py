"""Sharded training on CPU processes (gloo): FSDP2 over 2 ranks ends where one process does."""

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


@pytest.mark.parametrize("strategy", ["fsdp2", "ddp"])
def test_two_ranks_train_the_same_weights_as_one_process(tmp_path, strategy):
    single = train(tmp_path / "single", "trainer.devices=1")
    sharded = train(tmp_path / strategy, f"trainer={strategy}", "trainer.devices=2")
    assert single.keys() == sharded.keys()
    for name, weight in single.items():
        assert (weight - sharded[name]).abs().max() < 1e-4, name
    # and training moved them: the check is not vacuous
    initial = train(tmp_path / "initial", "trainer.devices=1", "trainer.max_steps=0")
    assert max((single[n] - initial[n]).abs().max() for n in single) > 1e-3


def test_rft_sampling_callback_gathers_sharded_weights_on_rank_zero(tmp_path):
    # Sampling between stages runs on rank 0 with a full copy; the other rank must join the gather.
    args = ["task=rft", "trainer=fsdp2", "trainer.devices=2", "rft.k=2", "rft.max_questions=8"]
    train(tmp_path, *args, "rft.max_new_tokens=32")
    report = (tmp_path / "rft_report.json").read_text()
    assert '"stage": "rft1"' in report
    assert (tmp_path / "rft" / "round1" / "samples" / "samples.jsonl").read_text().count("\n") == 16
