"""python -m mathlit task=<sft|...> model=<...> data=<...> [key=value ...]   (Hydra; -m for sweeps)"""

import shlex
import signal
import sys
from pathlib import Path
from typing import NoReturn

import hydra
import hydra._internal.utils as hydra_utils
from hydra.errors import ConfigCompositionException
from omegaconf import DictConfig

import mathlit.config  # (registers the schema and resolvers before Hydra composes)
from callbacks.interrupted import Interrupted
from mathlit.errors import MathlitError
from mathlit.folder_lock import is_launcher


@hydra.main(version_base="1.3", config_path="pkg://mathlit.conf", config_name="config")
def main(cfg: DictConfig) -> float | None:
    from mathlit.tasks import run_task  # heavy imports only once a job runs, so --help and --cfg are instant

    log_lightning_once()
    stop_on_signals()
    try:
        return run_task(cfg)
    except MathlitError as e:
        sys.exit(f"mathlit: error: {e}")
    except Interrupted as e:
        stopped(e, cfg)


def stop_on_signals() -> None:
    """SIGTERM and SIGINT raise Interrupted, so that every `finally` runs (the folder's lock is released) and the
    run ends with a failure status and one line. Training replaces these with a checkpoint at the next optimizer
    step first (callbacks/requeue.StopOnSignal); shards and checkpoints already written are kept either way."""

    def interrupt(signum, frame):
        raise Interrupted(signum, f"stopped by {signal.Signals(signum).name}")

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, interrupt)


def stopped(e: Interrupted, cfg: DictConfig) -> NoReturn:
    """One line naming where the run stopped and the command that resumes it; in a sweep, which stops here (its
    later jobs do not start), the sweep report of the jobs that finished is written first."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    from mathlit.hydra_callbacks import report_sweep

    hydra_cfg = HydraConfig.get()
    if hydra_cfg.mode == RunMode.MULTIRUN and cfg.task.name != "report":
        report_sweep(Path(hydra_cfg.sweep.dir))
    # The rerun resumes: trainer.resume is true by default, and the run's own folder is named.
    overrides = [o for o in hydra_cfg.overrides.task if not o.startswith(("hydra.run.dir=", "trainer.resume="))]
    command = shlex.join(["python", "-m", "mathlit", *overrides, f"hydra.run.dir={hydra_cfg.runtime.output_dir}"])
    print(f"mathlit: error: {e}; to resume: {command}", file=sys.stderr, flush=True)
    sys.exit(e.exit_status)


def log_lightning_once() -> None:
    """Lightning prints its lines through its own stderr handlers, and Hydra's handlers print them again: let
    Hydra's (the console and the run folder's log file) print each line once."""
    import logging

    for name in ("lightning", "lightning.pytorch", "lightning.fabric"):
        logger = logging.getLogger(name)
        for handler in list(logger.handlers):
            logger.removeHandler(handler)
        logger.propagate = True


def launcher_writes_the_record(argv: list[str]) -> list[str]:
    """The command line of this process: in a rank other than the launcher's (torchrun, srun), Hydra writes
    neither its record of the run (.hydra/) nor a log file: the launcher's are the run's, and two ranks writing one
    file on a shared disk interleave; this rank logs to its console (srun's output). Lightning's own DDP children
    come with `hydra.output_subdir=null` and a log of their own (train_ddp_process_<rank>.log)."""
    keys = {arg.split("=", 1)[0] for arg in argv}
    if is_launcher() or "hydra.job.name" in keys:  # Lightning's DDP children: their own log, no record, already
        return argv
    quiet = {"hydra.output_subdir": "null", "hydra/job_logging": "stdout"}
    return argv + [f"{key}={value}" for key, value in quiet.items() if key not in keys]


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
    sys.argv = launcher_writes_the_record(sys.argv)
    main()
