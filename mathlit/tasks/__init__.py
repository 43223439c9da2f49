"""Tasks by name: each module's `run(cfg)` is one paper recipe, read top to bottom."""

import importlib

from omegaconf import DictConfig

from mathlit.config import check_keys


def run_task(cfg: DictConfig) -> float | None:
    """`task.name` (one of config.Task) names the module; the schema has checked it at composition."""
    check_keys(cfg)
    return importlib.import_module(f"mathlit.tasks.{cfg.task.name}").run(cfg)
