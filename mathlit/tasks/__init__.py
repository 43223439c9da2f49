"""Tasks by name: each module is one paper recipe, read top to bottom, in two parts.

`train(cfg)` runs on every rank (Lightning stages, data generation) and returns what the report needs;
`report(cfg, trained)` runs on global rank 0 only (evaluation) and returns a `Report`. The runner holds the
run folder against a second run (mathlit.folder_lock), writes the metrics to <run_dir>/metrics.json (led by
the `headline` block every task shares), prints the summary, and returns the objective (Hydra sweeps).
No task imports another: shared steps live in mathlit.training, mathlit.evaluation and mathlit.datagen.
"""

import importlib
from dataclasses import dataclass
from pathlib import Path

from lightning.pytorch.utilities import rank_zero_only
from omegaconf import DictConfig

from mathlit.config import check_keys
from mathlit.config_ranges import check_values
from mathlit.data.prompts import settle_prompt
from mathlit.folder_lock import holding
from mathlit.headline import headline
from mathlit.io import write_json
from mathlit.models.build import check_model_choice
from mathlit.strategies import check_strategy


@dataclass(frozen=True)
class Report:
    metrics: dict | None  # written to <run_dir>/metrics.json; None: none yet (one job of an array)
    summary: str  # printed after "mathlit <task>: "
    objective: float | None  # the number a sweep optimises: what run_task returns
    figures: dict  # the task's part of metrics.json's "headline" (mathlit.headline)


def run_task(cfg: DictConfig) -> float | None:
    """Run the task cfg.task.name (one of config.Task, checked at composition); on global rank 0 its
    objective, None elsewhere."""
    check_keys(cfg)
    check_values(cfg)
    if cfg.task.name != "pretrain":  # pretrain refuses any weights to load, with its own message
        check_model_choice(cfg.model)
    if cfg.task.name != "eval":
        check_strategy(cfg.trainer.strategy)
    settle_prompt(cfg)
    run_dir = Path(cfg.run_dir)
    with holding(run_dir):
        task = importlib.import_module(f"mathlit.tasks.{cfg.task.name}")
        trained = task.train(cfg)
        if rank_zero_only.rank != 0:
            return None
        report = task.report(cfg, trained)
        if report.metrics is not None:
            write_json(run_dir / "metrics.json", {"headline": headline(cfg, report.figures)} | report.metrics)
    print(f"mathlit {cfg.task.name}: {report.summary}\noutputs in {run_dir}", flush=True)
    return report.objective
