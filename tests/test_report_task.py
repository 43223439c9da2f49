"""task=report and the multirun callback on real runs: a 2-point data-amount sweep of the micro model with epochs
held fixed, reported by the callback at the end of the multirun and again by task=report."""

import csv
import json
import subprocess
import sys

import pytest
from hydra import compose, initialize_config_module
from hydra.utils import instantiate

from mathlit.errors import ConfigError
from mathlit.hydra_callbacks import SweepReport
from mathlit.tasks import run_task
from tests.conftest import DATA, MICRO_MODEL, ROOT, make_cfg


def test_a_multirun_with_epochs_fixed_reports_itself_and_task_report_agrees(tmp_path):
    sweep = tmp_path / "sweep"
    command = [sys.executable, "-m", "mathlit", "-m", "debug=fast", *MICRO_MODEL, f"paths.data={DATA}"]
    # One epoch at every data amount: max_steps=-1 hands the budget to max_epochs.
    command += ["data.max_train_examples=16,32", "trainer.max_steps=-1", "trainer.max_epochs=1"]
    result = subprocess.run(
        [*command, f"hydra.sweep.dir={sweep}"], capture_output=True, text=True, cwd=ROOT, timeout=300
    )
    assert result.returncode == 0, result.stderr[-2000:]
    headlines = [json.loads((sweep / job / "metrics.json").read_text())["headline"] for job in ("0", "1")]
    # debug=fast: 8 examples per step, so one epoch is 2 steps of 16 examples and 4 of 32.
    assert [(h["data"]["train"], h["steps"]) for h in headlines] == [(16, 2), (32, 4)]
    for h in headlines:
        assert h["task"] == "sft" and h["model"] == {"name": "tiny_llama", "path": None} and h["seed"] == 42
        assert {"train/loss", "val/loss"} <= h["loss"].keys() and h["sampling"] == {"n": 0, "max_new_tokens": 32}
        assert h["data"]["test"] == 8 and 0 <= h["accuracy"]["greedy_accuracy"] <= 1
        assert 0 <= h["accuracy"]["single_step_p"] <= 1  # fitted on greedy accuracy (eval.n=0 in sft)

    summary = json.loads((sweep / "sweep.json").read_text())  # written by the callback
    assert summary["runs"] == 2 and summary["swept"] == ["data.max_train_examples"] and summary["unfinished"] == []
    assert summary["fits"]["all runs"]["greedy_accuracy"]["points"] == 2
    rows = list(csv.DictReader((sweep / "sweep.csv").open()))
    assert [row["data.max_train_examples"] for row in rows] == ["16", "32"] and rows[1]["steps"] == "4"
    assert (sweep / "sweep_greedy_accuracy.png").stat().st_size > 10_000
    assert "mathlit sweep: 2 runs" in result.stdout
    assert (result.stdout + result.stderr).count("`Trainer.fit` stopped") == 2  # Lightning's lines once per job

    out = tmp_path / "report"
    run_task(make_cfg("task=report", f"report.dir={sweep}", run_dir=out))
    assert (out / "sweep.md").read_text() == (sweep / "sweep.md").read_text()
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["runs"] == 2 and metrics["headline"]["task"] == "report"
    # A report folder is not a run: reporting on a folder that holds one finds the same two runs.
    run_task(make_cfg("task=report", f"report.dir=[{sweep},{out}]", run_dir=tmp_path / "again"))
    assert json.loads((tmp_path / "again" / "metrics.json").read_text())["runs"] == 2


def test_task_report_needs_a_folder(tmp_path):
    with pytest.raises(ConfigError, match="task=report needs report.dir"):
        run_task(make_cfg("task=report", run_dir=tmp_path))


def test_the_callback_is_registered_and_can_be_turned_off():
    with initialize_config_module("mathlit.conf", version_base="1.3"):
        callbacks = compose("config", return_hydra_config=True).hydra.callbacks
        assert instantiate(callbacks.sweep_report).__class__ is SweepReport
        assert (
            "sweep_report"
            not in compose("config", ["~hydra.callbacks.sweep_report"], return_hydra_config=True).hydra.callbacks
        )
