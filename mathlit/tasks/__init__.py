"""Tasks by name: each module's `run(cfg)` is one paper recipe, read top to bottom."""

import importlib

from omegaconf import DictConfig

from mathlit.errors import ConfigError

TASKS = ("sft", "eval", "rft", "verifier", "multitask")


def run_task(cfg: DictConfig) -> float | None:
    if cfg.task.name not in TASKS:
        raise ConfigError(f"task={cfg.task.name} is not one of {', '.join(TASKS)}")
    return importlib.import_module(f"mathlit.tasks.{cfg.task.name}").run(cfg)
