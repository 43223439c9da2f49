"""A sweep report: the runs of a multirun folder (or any run folders) as one table, fits and plots.

    python -m mathlit task=report report.dir=multirun/sft/2026-01-01_12-00-00
    python -m mathlit task=report 'report.dir=[outputs/sft/A,outputs/sft/B]'

Reads each run's metrics.json headline and .hydra/overrides.yaml; writes sweep.csv, sweep.md, sweep.json and
sweep_<figure>.png to the run folder (mathlit.metrics.sweep). Every multirun writes the same report into its own
folder when it ends (mathlit/hydra_callbacks.py).
"""

from omegaconf import DictConfig, ListConfig

from mathlit.errors import ConfigError
from mathlit.metrics.sweep import write_sweep_report
from mathlit.tasks import Report


def train(cfg: DictConfig) -> None:
    """Nothing to train: the runs are given."""


def report(cfg: DictConfig, trained: None) -> Report:
    folders = cfg.report.dir
    if not folders:
        raise ConfigError("task=report needs report.dir: a multirun folder, a run folder, or a list of them")
    summary, table = write_sweep_report(list(folders) if isinstance(folders, ListConfig) else [folders], cfg.run_dir)
    return Report(summary, f"{summary['runs']} runs, swept {summary['swept']}\n{table}", None, {})
