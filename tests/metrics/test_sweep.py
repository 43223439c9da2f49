"""Sweep reports over synthetic run folders: a known log-linear curve for two models, three seeds each."""

import csv
import json
import math
from pathlib import Path

import pytest

from mathlit.errors import ConfigError, DataError
from mathlit.metrics.sweep import find_runs, read_overrides, write_sweep_report

POOL = 1024


def make_run(folder: Path, overrides: list[str], train: int, accuracy: float, seed: int) -> None:
    (folder / ".hydra").mkdir(parents=True)
    (folder / ".hydra" / "overrides.yaml").write_text("".join(f"- {o}\n" for o in overrides))
    headline = {
        "task": "sft",
        "data": {"name": "arith", "train": train},
        "seed": seed,
        "accuracy": {"greedy_accuracy": accuracy},
        "ci95": {"greedy_accuracy": [accuracy - 0.05, accuracy + 0.05]},
    }
    (folder / "metrics.json").write_text(json.dumps({"headline": headline, "greedy_accuracy": accuracy}))


@pytest.fixture
def sweep(tmp_path) -> Path:
    """model.arch.hidden_size x data.train_fraction x seed; accuracy = base + slope * log2(train) +- noise."""
    job = 0
    for hidden, base, slope in ((32, 0.1, 0.04), (64, 0.3, 0.02)):  # the bigger model gains less
        for fraction in (0.125, 0.25, 0.5, 1):
            for seed, noise in ((1, -0.01), (2, 0.0), (3, 0.01)):
                train = int(POOL * fraction)
                overrides = [f"model.arch.hidden_size={hidden}", f"data.train_fraction={fraction}", f"seed={seed}"]
                make_run(tmp_path / str(job), overrides, train, base + slope * math.log2(train) + noise, seed)
                job += 1
    (tmp_path / str(job) / ".hydra").mkdir(parents=True)  # a job that failed: overrides, no metrics.json
    (tmp_path / str(job) / ".hydra" / "overrides.yaml").write_text("- seed=9\n")
    return tmp_path


def test_sweep_report_tables_groups_fits_and_plots(sweep, tmp_path):
    out = tmp_path / "report"
    summary, table = write_sweep_report([sweep], out)
    assert summary["runs"] == 24 and summary["unfinished"] == [str(sweep / "24")]
    assert summary["swept"] == ["data.train_fraction", "model.arch.hidden_size", "seed"]

    rows = list(csv.DictReader((out / "sweep.csv").open()))
    assert len(rows) == 24 and {"run", "seed", "data.train_fraction", "accuracy.greedy_accuracy"} <= rows[0].keys()
    assert rows[0]["ci95.greedy_accuracy.low"] and rows[0]["data.train"] == "128"

    groups = summary["groups"]
    assert len(groups) == 8 and all(g["runs"] == 3 for g in groups)  # seeds are averaged, not a swept setting
    first = next(g for g in groups if g["model.arch.hidden_size"] == "32" and g["data.train_fraction"] == "0.125")
    figure = first["figures"]["greedy_accuracy"]
    assert figure["mean"] == pytest.approx(0.1 + 0.04 * 7) and figure["sd"] == pytest.approx(0.01)
    assert figure["ci95"][0] < figure["mean"] < figure["ci95"][1]  # over the 3 seeds, not the runs' own

    fits = summary["fits"]
    assert set(fits) == {"model.arch.hidden_size=32", "model.arch.hidden_size=64"}
    small, big = (fits[name]["greedy_accuracy"] for name in sorted(fits))
    assert small["slope"] == pytest.approx(0.04) and big["slope"] == pytest.approx(0.02)
    assert small["intercept"] == pytest.approx(0.1) and 0.95 < small["r2"] < 1 and small["points"] == 12
    assert small["slope_ci"][0] < 0.04 < small["slope_ci"][1]

    assert "| model.arch.hidden_size=32 | greedy_accuracy | 4.00 [" in table
    assert (out / "sweep.md").read_text() == table and json.loads((out / "sweep.json").read_text()) == summary
    assert (
        summary["plots"] == ["sweep_greedy_accuracy.png"]
        and (out / "sweep_greedy_accuracy.png").stat().st_size > 10_000
    )


def test_a_group_of_one_run_shows_its_interval_over_problems(tmp_path):
    make_run(tmp_path / "a", ["eval.temperature=0.2"], 100, 0.5, 1)
    make_run(tmp_path / "b", ["eval.temperature=0.7"], 100, 0.4, 1)
    summary, table = write_sweep_report([tmp_path / "a", tmp_path / "b"], tmp_path / "out")
    assert summary["swept"] == ["eval.temperature"] and summary["fits"] == {}  # the data amount is fixed
    assert summary["groups"][0]["figures"]["greedy_accuracy"]["ci95"] == [0.45, 0.55]
    assert "| 0.2 | 1 | 100 | 50.0 [45.0, 55.0] |" in table
    assert summary["plots"] == ["sweep_greedy_accuracy.png"]  # against the one numeric swept key


def test_overrides_drop_hydra_keys_and_prefixes(tmp_path):
    (tmp_path / ".hydra").mkdir()
    (tmp_path / ".hydra" / "overrides.yaml").write_text("- +data.x=1\n- hydra.run.dir=/a\n- task=eval\n")
    assert read_overrides(tmp_path) == {"data.x": "1", "task": "eval"}
    assert read_overrides(tmp_path / "nothing") == {}


def test_bad_report_dirs_name_the_problem(tmp_path):
    with pytest.raises(ConfigError, match="no such folder.*report.dir"):
        find_runs([tmp_path / "missing"])
    with pytest.raises(ConfigError, match="no run folders"):
        find_runs([tmp_path])
    (tmp_path / "metrics.json").write_text('{"greedy_accuracy": 0.5}')
    with pytest.raises(DataError, match="metrics.json: no headline"):
        find_runs([tmp_path])


def test_a_run_with_a_garbage_metrics_file_is_listed_as_unreadable_and_the_others_reported(tmp_path, caplog):
    make_run(tmp_path / "0", ["seed=1"], 128, 0.2, 1)
    make_run(tmp_path / "1", ["seed=2"], 128, 0.3, 2)
    (tmp_path / "1" / "metrics.json").write_bytes(b'{"headline": {"task": \x00\xff garbage')
    summary, _ = write_sweep_report([tmp_path], tmp_path / "report")
    assert summary["runs"] == 1
    why = (
        f"{tmp_path / '1' / 'metrics.json'}: not readable as JSON ('utf-8' codec can't decode byte 0xff in position "
        "23: invalid start byte)"
    )
    assert summary["unreadable"] == [why]
    assert caplog.messages == [f"left out of the report: {why}"]
