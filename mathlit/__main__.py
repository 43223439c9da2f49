"""python -m mathlit task=<sft|...> model=<...> data=<...> [key=value ...]   (Hydra; -m for sweeps)"""

import sys

import hydra
from omegaconf import DictConfig

import mathlit.config  # noqa: F401  (registers the schema and resolvers before Hydra composes)
from mathlit.errors import MathlitError


@hydra.main(version_base="1.3", config_path="pkg://mathlit.conf", config_name="config")
def main(cfg: DictConfig) -> float | None:
    from mathlit.tasks import run_task  # heavy imports only once a job runs, so --help and --cfg are instant

    try:
        return run_task(cfg)
    except MathlitError as e:
        sys.exit(f"mathlit: error: {e}")


if __name__ == "__main__":
    main()
