"""The Lightning loggers of a run (logger=csv|tensorboard|wandb|mlflow), and the test figures sent to them.

The CSV log is always written (`logs/version_<n>/metrics.csv`: metrics.json's headline reads its final losses);
logger=tensorboard|wandb|mlflow adds that tracker beside it, writing into the run folder unless its `kwargs` say
otherwise (`logger.kwargs.tracking_uri=http://...` for an MLflow server, `logger.kwargs.offline=true` for W&B).
The trackers are an extra: `pip install -e '.[loggers]'`; without one, one line says so.
"""

import importlib.util
import os
from pathlib import Path

from lightning.pytorch.loggers import CSVLogger, Logger

from mathlit.config import LoggerConfig
from mathlit.errors import ConfigError

PACKAGES = {"tensorboard": ("tensorboard", "tensorboardX"), "wandb": ("wandb",), "mlflow": ("mlflow",)}
_built: list[tuple[Path, Logger]] = []  # the trackers of this process and their folders, newest last


def build_loggers(cfg: LoggerConfig, out_dir: Path) -> list[Logger]:
    # A numbered folder per (re)start: logs/version_0, version_1 after a resume. A fixed folder would make
    # Lightning delete the interrupted run's metrics file.
    loggers: list[Logger] = [CSVLogger(out_dir, name="logs")]
    if cfg.name != "csv":
        loggers.append(_tracker(cfg, out_dir))
        _built.append((out_dir.resolve(), loggers[-1]))
    return loggers


def _tracker(cfg: LoggerConfig, out_dir: Path) -> Logger:
    if not any(importlib.util.find_spec(name) for name in PACKAGES[cfg.name]):
        raise ConfigError(f"logger={cfg.name} needs the {PACKAGES[cfg.name][0]} package: pip install -e '.[loggers]'")
    from lightning.pytorch import loggers

    kwargs = dict(cfg.kwargs)
    if cfg.name == "tensorboard":
        return loggers.TensorBoardLogger(out_dir, name="tensorboard", **kwargs)
    if cfg.name == "wandb":
        return loggers.WandbLogger(**{"project": cfg.project, "save_dir": str(out_dir)} | kwargs)
    # MLflow's own default is ./mlruns in whatever folder the job starts in: the run folder instead. MLflow 3
    # refuses a file store unless allowed (it wants a database, which mlflow-skinny cannot open); a server URI
    # given in logger.kwargs.tracking_uri is used as it is.
    if "tracking_uri" not in kwargs:
        kwargs["tracking_uri"] = f"file:{out_dir.resolve()}/mlruns"
        os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
    return loggers.MLFlowLogger(experiment_name=cfg.project, **kwargs)


def log_test_figures(run_dir: Path, accuracy: dict[str, float], step: int | None) -> None:
    """The headline's test accuracy figures (greedy_accuracy, pass@N, maj@N, ...) as test/<name> in the newest
    tracker of the run (a multi-stage task's last stage), then every tracker of the run is closed (a W&B run is
    finished, so that an offline run's files are complete)."""
    run_dir = Path(run_dir).resolve()
    mine = [logger for folder, logger in _built if folder.is_relative_to(run_dir)]
    _built[:] = [(folder, logger) for folder, logger in _built if not folder.is_relative_to(run_dir)]
    if not mine:
        return
    figures = {f"test/{name}": value for name, value in accuracy.items() if isinstance(value, int | float)}
    if figures:
        mine[-1].log_metrics(figures, step=step)
    for tracker in mine:
        tracker.finalize("success")
    if any(type(tracker).__name__ == "WandbLogger" for tracker in mine):
        import wandb

        wandb.finish()  # the stages of a task share the process's one W&B run
