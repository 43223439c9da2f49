"""SLURM launchers: the sbatch script maps the allocation onto the trainer; the sweep launcher composes."""

import os
import subprocess
import sys

import pytest
import yaml
from hydra import compose, initialize_config_module

from tests.conftest import DATA, ROOT


def test_sbatch_script_maps_the_allocation_and_passes_overrides_through():
    env = os.environ | {
        "SLURM_JOB_ID": "77",
        "SLURM_NTASKS_PER_NODE": "4",
        "SLURM_NNODES": "2",
        "MATHLIT_SRUN": "",  # no srun here: run the command itself
        "MATHLIT_PYTHON": sys.executable,
    }
    result = subprocess.run(
        ["bash", "launchers/slurm.sbatch", "task=rft", f"paths.data={DATA}", "--cfg", "all"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    cfg = yaml.safe_load(result.stdout)
    assert (cfg["trainer"]["devices"], cfg["trainer"]["num_nodes"], cfg["task"]["name"]) == (4, 2, "rft")
    assert cfg["hydra"]["run"]["dir"] == "outputs/slurm/77"


def test_slurm_sweep_launcher_follows_the_trainer_nodes():
    pytest.importorskip("hydra_plugins.hydra_submitit_launcher")
    with initialize_config_module("mathlit.conf", version_base="1.3"):
        cfg = compose(
            "config",
            overrides=["hydra/launcher=slurm", "trainer.num_nodes=2", "hydra.launcher.tasks_per_node=4"],
            return_hydra_config=True,
        )
    launcher = cfg.hydra.launcher
    assert launcher._target_.endswith("SlurmLauncher")
    assert (launcher.nodes, launcher.tasks_per_node, launcher.gpus_per_node) == (2, 4, 4)
