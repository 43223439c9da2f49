"""Who is who on a 2-node x 4-GPU allocation, from the environment alone (no GPU, no second node): Lightning's
environment for srun (SLURM_*) and for torchrun (RANK, LOCAL_RANK, GROUP_RANK, ...) gives every process its
global rank, node and local rank as mathlit's trainer sees them; only global rank 0 holds the run folder's lock
(one per run, not per node); each rank samples its own shards."""

import pytest

from mathlit.folder_lock import is_launcher
from mathlit.sampling.ranks import Ranks
from mathlit.training import build_trainer
from tests.conftest import make_cfg

NODES, PER_NODE = 2, 4
RANK_VARS = ("RANK", "LOCAL_RANK", "NODE_RANK", "GROUP_RANK", "WORLD_SIZE", "LOCAL_WORLD_SIZE", "TORCHELASTIC_RUN_ID")


def srun(global_rank: int) -> dict[str, str]:
    """What srun sets for task `global_rank` of `sbatch --nodes=2 --ntasks-per-node=4`."""
    node, local = divmod(global_rank, PER_NODE)
    return {
        "SLURM_JOB_ID": "77",
        "SLURM_JOB_NAME": "mathlit",
        "SLURM_NTASKS": str(NODES * PER_NODE),
        "SLURM_NTASKS_PER_NODE": str(PER_NODE),
        "SLURM_NNODES": str(NODES),
        "SLURM_NODELIST": "gpu[07-08]",
        "SLURM_NODEID": str(node),
        "SLURM_PROCID": str(global_rank),
        "SLURM_LOCALID": str(local),
    }


def torchrun(global_rank: int) -> dict[str, str]:
    """What torchrun --nnodes=2 --nproc-per-node=4 sets for worker `global_rank`."""
    node, local = divmod(global_rank, PER_NODE)
    return {
        "RANK": str(global_rank),
        "LOCAL_RANK": str(local),
        "GROUP_RANK": str(node),
        "NODE_RANK": str(node),
        "WORLD_SIZE": str(NODES * PER_NODE),
        "LOCAL_WORLD_SIZE": str(PER_NODE),
        "MASTER_ADDR": "gpu07",
        "MASTER_PORT": "29500",
        "TORCHELASTIC_RUN_ID": "77",
    }


@pytest.mark.parametrize("launcher", [srun, torchrun])
@pytest.mark.parametrize("global_rank", range(NODES * PER_NODE))
def test_each_process_of_a_two_node_allocation_knows_its_ranks(tmp_path, monkeypatch, launcher, global_rank):
    import lightning_utilities.core.rank_zero
    from lightning.fabric.utilities import rank_zero as fabric
    from lightning.pytorch.utilities import rank_zero as pytorch

    for module in (lightning_utilities.core.rank_zero, fabric, pytorch):  # the strategy sets them: restored after
        monkeypatch.setattr(module.rank_zero_only, "rank", module.rank_zero_only.rank)
    for name in (*RANK_VARS, "MASTER_ADDR", "MASTER_PORT"):  # Lightning sets MASTER_ADDR: restored after
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)
    for name, value in launcher(global_rank).items():
        monkeypatch.setenv(name, value)
    cfg = make_cfg("trainer.accelerator=cpu", f"trainer.devices={PER_NODE}", f"trainer.num_nodes={NODES}")
    trainer = build_trainer(cfg.trainer, cfg.logger, tmp_path, global_batch_size=8, micro_batch_size=1)
    environment = trainer.strategy.cluster_environment
    expected = "SLURMEnvironment" if launcher is srun else "TorchElasticEnvironment"
    assert type(environment).__name__ == expected
    node, local = divmod(global_rank, PER_NODE)
    assert (trainer.global_rank, trainer.node_rank, trainer.local_rank) == (global_rank, node, local)
    assert trainer.world_size == NODES * PER_NODE and trainer.num_nodes == NODES
    assert environment.main_address == "gpu07"
    assert is_launcher() == (global_rank == 0)  # the one process that locks the run folder
    # its shards of a sampling pass: global_rank, global_rank + 8, ...
    assert Ranks(trainer.global_rank, trainer.world_size).mine((0, 1)) == (global_rank, NODES * PER_NODE)


@pytest.mark.parametrize(
    ("env", "argv", "added"),
    [
        ({}, ["task=sft"], []),  # the launcher: Hydra writes .hydra/ and the log file
        ({"RANK": "0", "LOCAL_RANK": "0"}, ["task=sft"], []),  # torchrun's rank 0
        ({"RANK": "1"}, ["task=sft"], ["hydra.output_subdir=null", "hydra/job_logging=stdout"]),
        ({"SLURM_PROCID": "3"}, ["hydra.output_subdir=null"], ["hydra/job_logging=stdout"]),  # srun
        ({"LOCAL_RANK": "1"}, ["hydra.output_subdir=null", "hydra.job.name=train_ddp_process_1"], []),  # Lightning
    ],
)
def test_only_the_launcher_writes_hydras_record_and_log(monkeypatch, env, argv, added):
    from mathlit.__main__ import launcher_writes_the_record

    for name in ("RANK", "LOCAL_RANK", "NODE_RANK", "GROUP_RANK", "SLURM_PROCID", "OMPI_COMM_WORLD_RANK", "PMI_RANK"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert launcher_writes_the_record(["mathlit", *argv]) == ["mathlit", *argv, *added]
