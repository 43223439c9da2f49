"""python -m mathlit --help lists the tasks with an example each and every config group's options."""

import subprocess
import sys

from tests.conftest import ROOT


def test_help_lists_tasks_groups_and_examples():
    result = subprocess.run(
        [sys.executable, "-m", "mathlit", "--help"], capture_output=True, text=True, cwd=ROOT, timeout=60
    )
    assert result.returncode == 0
    for task in ("sft", "eval", "rft", "verifier", "multitask"):
        assert f"python -m mathlit task={task}" in result.stdout
    assert "model: hf, llama2_13b" in result.stdout and "data: arith, custom, gsm8k, math" in result.stdout
