"""The headline block: the config's part, a task's figures merged in, the final losses of a CSV log."""

import pytest

from mathlit.headline import accuracy_figures, final_losses, headline, merge, training_figures
from tests.conftest import make_cfg


def write_log(stage, version: int, text: str) -> None:
    folder = stage / "logs" / f"version_{version}"
    folder.mkdir(parents=True)
    (folder / "metrics.csv").write_text(text)


def test_final_losses_come_from_the_newest_log_version(tmp_path):
    write_log(tmp_path, 2, "step,train/loss,val/loss\n1,9.0,\n")
    write_log(tmp_path, 10, "epoch,step,train/loss,train/lr,val/loss\n0,5,2.0,0.1,\n0,5,,,1.5\n0,6,1.75,0.1,\n")
    assert final_losses(tmp_path) == {"train/loss": 1.75, "val/loss": 1.5}  # version_10 after version_2
    assert final_losses(tmp_path / "none") == {}


def test_headline_merges_config_and_figures(tmp_path):
    cfg = make_cfg("eval.n=8")
    metrics = {
        "greedy_accuracy": 0.5,
        "greedy_ci95": [0.4, 0.6],
        "problems": 10,
        "sampled": {"n": 8, "problems": 10, "pass@8": 0.9, "maj@8": 0.6, "pass_ratio": 0.5, "ci95": {}},
        "reasoning_steps": {"p": 0.8, "p_ci95": [0.7, 0.9]},
    }
    metrics["sampled"]["ci95"] = dict.fromkeys(("pass@8", "maj@8", "pass_ratio"), [0.0, 1.0])
    figures = merge(training_figures(tmp_path, 12, {"train": 100, "val": 5, "test": 10}), accuracy_figures(metrics))
    block = headline(cfg, figures)
    assert block["task"] == "sft" and block["steps"] == 12 and block["seed"] == cfg.seed
    assert block["data"] == {"name": "arith", "path": None, "train_fraction": 1.0, "train": 100, "val": 5, "test": 10}
    assert block["accuracy"] == {
        "greedy_accuracy": 0.5,
        "pass@8": 0.9,
        "maj@8": 0.6,
        "pass_ratio": 0.5,
        "single_step_p": 0.8,
    }
    assert block["ci95"]["greedy_accuracy"] == [0.4, 0.6] and block["ci95"]["single_step_p"] == [0.7, 0.9]
    assert block["sampling"] == {"n": 8, "temperature": pytest.approx(0.7), "top_p": 1.0, "max_new_tokens": 160}
    assert headline(cfg, accuracy_figures({"greedy_accuracy": 0.5}))["sampling"] == {"n": 0, "max_new_tokens": 160}
