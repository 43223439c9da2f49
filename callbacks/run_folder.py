"""A Hydra callback (not a Lightning one): the run folder is checked before Hydra writes anything into it (the
.hydra/ record, the log file). A path that is a file, a folder this user cannot write (read-only, another
user's), or a folder another run holds fails with one line, and the folder is left as it was found.
Registered in conf/config.yaml (hydra.callbacks.run_folder)."""

import sys
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from mathlit.errors import ConfigError
from mathlit.folder_lock import check_usable


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
