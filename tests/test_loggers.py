"""logger=tensorboard|wandb|mlflow with the real packages, offline: the training and test metrics read back.

Each run also keeps the CSV log (the headline's losses come from it). The packages are the `loggers` extra.
"""

import json
import struct

import pytest

from mathlit.errors import ConfigError
from mathlit.evaluation import table
from mathlit.tasks import run_task
from tests.conftest import MICRO_MODEL, make_cfg


def train(run, logger: str, *overrides: str) -> dict:
    run_task(make_cfg("debug=fast", *MICRO_MODEL, f"logger={logger}", *overrides, run_dir=run))
    assert list(run.glob("logs/version_0/metrics.csv"))  # the CSV log beside the tracker
    return json.loads((run / "metrics.json").read_text())["headline"]


def test_tensorboard_event_files_hold_the_training_and_test_metrics(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    headline = train(tmp_path, "tensorboard")
    folder = tmp_path / "tensorboard" / "version_0"
    assert list(folder.glob("events.out.tfevents.*"))
    accumulator = EventAccumulator(str(folder))
    accumulator.Reload()
    losses = accumulator.Scalars("train/loss")
    assert [e.step for e in losses][-1] == 3 and losses[-1].value == pytest.approx(headline["loss"]["train/loss"])
    (greedy,) = accumulator.Scalars("test/greedy_accuracy")
    assert greedy.step == 4 and greedy.value == pytest.approx(headline["accuracy"]["greedy_accuracy"])


def wandb_history(path) -> list[dict]:
    """The history rows of an offline run's .wandb file: a LevelDB-style log of protobuf records (a 7-byte file
    header, 32 KiB blocks, each record part behind a crc32/length/type header). wandb 0.31 ships no reader."""
    from wandb.proto import wandb_internal_pb2

    data, position, part, rows = path.read_bytes(), 7, b"", []
    while position + 7 <= len(data):
        left = 32768 - position % 32768
        _, length, kind = struct.unpack("<IHB", data[position : position + 7])
        if left < 7 or kind == 0:  # the block's padding
            position += left
            continue
        part += data[position + 7 : position + 7 + length]
        position += 7 + length
        if kind in (1, 4):  # a full record, or a record's last part
            record = wandb_internal_pb2.Record()
            record.ParseFromString(part)
            part = b""
            if record.WhichOneof("record_type") == "history":
                items = record.history.item  # "train/loss" is stored as the nested key ["train", "loss"]
                rows.append({item.key or "/".join(item.nested_key): json.loads(item.value_json) for item in items})
    return rows


def test_wandb_offline_run_holds_the_training_and_test_metrics(tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    headline = train(tmp_path, "wandb")
    (run,) = tmp_path.glob("wandb/offline-run-*/run-*.wandb")
    rows = wandb_history(run)
    losses = [row for row in rows if "train/loss" in row]
    assert losses[-1]["trainer/global_step"] == 3
    assert losses[-1]["train/loss"] == pytest.approx(headline["loss"]["train/loss"])
    (test,) = [row for row in rows if "test/greedy_accuracy" in row]
    assert test["test/greedy_accuracy"] == pytest.approx(headline["accuracy"]["greedy_accuracy"])


def test_mlflow_local_store_holds_the_training_and_test_metrics(tmp_path):
    from mlflow.tracking import MlflowClient

    headline = train(tmp_path, "mlflow")
    client = MlflowClient(tracking_uri=f"file:{tmp_path}/mlruns")
    (run,) = client.search_runs([client.get_experiment_by_name("mathlit").experiment_id])
    losses = client.get_metric_history(run.info.run_id, "train/loss")
    assert max(m.step for m in losses) == 3
    assert sorted(losses, key=lambda m: m.step)[-1].value == pytest.approx(headline["loss"]["train/loss"])
    assert run.data.metrics["test/greedy_accuracy"] == pytest.approx(headline["accuracy"]["greedy_accuracy"])
    assert run.info.status == "FINISHED"


@pytest.mark.parametrize("logger, package", [("tensorboard", "tensorboard"), ("wandb", "wandb"), ("mlflow", "mlflow")])
def test_a_missing_logger_package_is_one_line_naming_the_extra(tmp_path, monkeypatch, logger, package):
    monkeypatch.setattr("mathlit.loggers.importlib.util.find_spec", lambda name: None)
    with pytest.raises(ConfigError) as error:
        train(tmp_path, logger)
    assert str(error.value) == f"logger={logger} needs the {package} package: pip install -e '.[loggers]'"


def test_the_console_table_lists_k_in_numeric_order():
    sampled = {"n": 16, "maj@1": 0.1, "maj@16": 0.4, "maj@2": 0.2, "pass@16": 0.9, "pass@2": 0.5, "pass_ratio": 0.3}
    names = [line.split()[0] for line in table({"sampled": sampled}).splitlines()]
    assert names == ["maj@1", "maj@2", "maj@16", "pass@2", "pass@16", "pass_ratio"]
