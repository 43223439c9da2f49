"""Hydra callbacks (not Lightning ones, which live in the top-level `callbacks` package), registered in
conf/config.yaml as hydra.callbacks.run_folder and hydra.callbacks.sweep_report; `~hydra.callbacks.<name>` on the
command line turns one off.

CheckRunFolder: the run folder is checked before Hydra writes anything into it (the .hydra/ record, the log file).
A path that is a file, a folder this user cannot write (read-only, another user's), or a folder another run holds
fails with one line, and the folder is left as it was found.

SweepReport: at the end of every multirun, the sweep report of task=report (sweep.csv, sweep.md, sweep.json, plots)
written into the multirun folder."""

import logging
import sys
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from mathlit.errors import ConfigError, MathlitError
from mathlit.folder_lock import check_usable

log = logging.getLogger(__name__)


class CheckRunFolder(Callback):
    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        _check(Path(config.hydra.run.dir), "hydra.run.dir")

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        _check(Path(config.hydra.sweep.dir), "hydra.sweep.dir")  # each job's folder inside it is checked as it runs


def _check(folder: Path, key: str) -> None:
    try:
        check_usable(folder, key)
    except ConfigError as e:
        sys.exit(f"mathlit: error: {e}")


class SweepReport(Callback):
    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        if config.task.name != "report":
            report_sweep(Path(config.hydra.sweep.dir))


def report_sweep(sweep_dir: Path) -> None:
    """The report of the finished jobs in sweep_dir: at the end of a sweep, or when a signal stops it (__main__)."""
    from mathlit.metrics.sweep import write_sweep_report  # matplotlib only once a sweep has run

    if not sweep_dir.is_dir():
        return
    try:
        summary, table = write_sweep_report([sweep_dir], sweep_dir)
    except MathlitError as e:  # the jobs' own outputs stand; only the summary is missing
        log.warning("no sweep report for %s: %s", sweep_dir, e)
        return
    print(f"mathlit sweep: {summary['runs']} runs, swept {summary['swept']}\n{table}report in {sweep_dir}", flush=True)
