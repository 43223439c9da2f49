"""Tasks by name: each module is one paper recipe, read top to bottom, in two parts.

A task module may define `check(cfg)`, run at start-up (mathlit.startup) before anything loads.
`train(cfg)` runs on every rank (Lightning stages, data generation, and the test problems' sampling, each rank
its share: mathlit.evaluation.sample_test) and returns what the report needs; `report(cfg, trained)` runs on
global rank 0 only (evaluation: it scores the samples it finds on disk) and returns a `Report`. The runner holds the
run folder against a second run (mathlit.folder_lock), writes the metrics to <run_dir>/metrics.json (led by
the `headline` block every task shares), prints the summary, and returns the objective (Hydra sweeps).
No task imports another: shared steps live in mathlit.training, mathlit.evaluation and mathlit.datagen.
"""

import importlib
from dataclasses import dataclass
from pathlib import Path

from lightning.pytorch.utilities import rank_zero_only
from omegaconf import DictConfig

from mathlit.folder_lock import holding
from mathlit.headline import headline
from mathlit.io import write_json
from mathlit.loggers import log_test_figures
from mathlit.startup import start


@dataclass(frozen=True)
class Report:
    metrics: dict | None  # written to <run_dir>/metrics.json; None: none yet (one job of an array)
    summary: str  # printed after "mathlit <task>: "
    objective: float | None  # the number a sweep optimises: what run_task returns
    figures: dict  # the task's part of metrics.json's "headline" (mathlit.headline)


def run_task(cfg: DictConfig) -> float | None:
    """Run the task cfg.task.name (one of config.Task, checked at composition); on global rank 0 its
    objective, None elsewhere."""
    task = importlib.import_module(f"mathlit.tasks.{cfg.task.name}")
    start(cfg, task)  # every check before anything loads (mathlit.startup)
    run_dir = Path(cfg.run_dir)
    with holding(run_dir):
        trained = task.train(cfg)
        if rank_zero_only.rank != 0:
            return None
        report = task.report(cfg, trained)
        if report.metrics is not None:
            block = headline(cfg, report.figures)
            write_json(run_dir / "metrics.json", {"headline": block} | report.metrics)
            log_test_figures(run_dir, block["accuracy"], block["steps"])
    print(f"mathlit {cfg.task.name}: {report.summary}\noutputs in {run_dir}", flush=True)
    return report.objective
