"""A Hydra callback (not a Lightning one): at the end of every multirun, the sweep report of task=report
(sweep.csv, sweep.md, sweep.json, plots) written into the multirun folder. Registered in conf/config.yaml
(hydra.callbacks.sweep_report); `~hydra.callbacks.sweep_report` on the command line turns it off."""

import logging
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from mathlit.errors import MathlitError

log = logging.getLogger(__name__)


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
