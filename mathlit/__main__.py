"""python -m mathlit task=<sft|...> model=<...> data=<...> [key=value ...]   (Hydra; -m for sweeps)"""

import sys

import hydra
import hydra._internal.utils as hydra_utils
from hydra.errors import ConfigCompositionException
from omegaconf import DictConfig

import mathlit.config  # (registers the schema and resolvers before Hydra composes)
from mathlit.errors import MathlitError


@hydra.main(version_base="1.3", config_path="pkg://mathlit.conf", config_name="config")
def main(cfg: DictConfig) -> float | None:
    from mathlit.tasks import run_task  # heavy imports only once a job runs, so --help and --cfg are instant

    log_lightning_once()
    try:
        return run_task(cfg)
    except MathlitError as e:
        sys.exit(f"mathlit: error: {e}")


def log_lightning_once() -> None:
    """Lightning prints its lines through its own stderr handlers, and Hydra's handlers print them again: let
    Hydra's (the console and the run folder's log file) print each line once."""
    import logging

    for name in ("lightning", "lightning.pytorch", "lightning.fabric"):
        logger = logging.getLogger(name)
        for handler in list(logger.handlers):
            logger.removeHandler(handler)
        logger.propagate = True


def explain_renames(run_and_report):
    """Hydra reports its own errors (`Key 'name' not in 'VerifierConfig'`); an old, renamed key or stage kind,
    on the command line or in a config file, gets one line naming the new name instead."""

    def run(func):
        def composed():
            try:
                return func()
            except ConfigCompositionException as e:
                if line := mathlit.config.renamed(f"{e}\n{e.__cause__}"):
                    sys.exit(f"mathlit: error: {line}")
                raise

        return run_and_report(composed)

    return run


if __name__ == "__main__":
    # Hydra's private error reporter; where a Hydra version lacks it, its own message stands.
    if hasattr(hydra_utils, "run_and_report"):
        hydra_utils.run_and_report = explain_renames(hydra_utils.run_and_report)
    main()
