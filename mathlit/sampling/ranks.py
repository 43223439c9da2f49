"""The ranks that sample one pass together: which shards are mine, and a wait for the others.

The processes of a run (Lightning's DDP/FSDP ranks, torchrun workers, srun tasks) split each sampling pass
by shard: rank r of w samples shards r, r+w, r+2w, ... of its job's part (a job array's eval.shard=i/n) into
the one shard folder, waits for the others, then reads every shard back in order (mathlit.sampling.records).
Shards are seeded by their index, not by the process, so the samples are those of one process.

The wait is a gloo barrier over a group of its own, with trainer.collective_timeout_s: a pass can take hours,
longer than an NCCL collective's 30-minute watchdog, and gloo names a rank that never arrives (one killed).
"""

from dataclasses import dataclass
from datetime import timedelta

import torch
import torch.distributed as dist
from omegaconf import DictConfig

from mathlit.errors import ConfigError
from mathlit.strategies import world_size


@dataclass(frozen=True)
class Ranks:
    rank: int = 0
    world: int = 1
    group: object = None  # the gloo group the ranks wait in (None: one process)
    timeout_s: float = 0.0
    engine: int = 1  # consecutive ranks that run one engine (vLLM's tensor-parallel group) and sample alike

    def mine(self, part: tuple[int, int]) -> tuple[int, int]:
        """This rank's share of a job's part (i, n): the shards s with s % n == i, dealt round-robin over the
        engines. The one place a process decides which shards it samples."""
        i, n = part
        return i + n * (self.rank // self.engine), n * (self.world // self.engine)

    @property
    def writes(self) -> bool:
        """Whether this rank writes the shards its engine samples: the first of the engine's ranks (every one of
        them samples each shard, since the engine spans them)."""
        return self.rank % self.engine == 0

    def wait(self) -> None:
        """Until every rank is here; one that died or never comes fails it in one line naming the rank."""
        if self.world > 1:
            dist.monitored_barrier(self.group, timeout=timedelta(seconds=self.timeout_s), wait_all_ranks=True)


ALONE = Ranks()
_group: tuple[object, object] | None = None  # (the run's default group, our gloo group over it)


def run_ranks(timeout_s: float, engine: int = 1) -> Ranks:
    """Every rank of the run, once torch.distributed is initialised (after Lightning's first fit, or by the
    caller); one process otherwise. Call it on every rank at once: its first call makes a group (a collective).
    `engine`: the ranks each engine spans (sampler.tensor_parallel_size with vLLM)."""
    global _group
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return ALONE
    if _group is None or _group[0] is not dist.group.WORLD:
        _group = (dist.group.WORLD, dist.new_group(backend="gloo", timeout=timedelta(seconds=timeout_s)))
    return Ranks(dist.get_rank(), dist.get_world_size(), _group[1], timeout_s, engine)


def join_launched_ranks(timeout_s: float) -> Ranks:
    """Every rank of a run that torchrun or srun started as several processes, before anything trains (task=eval,
    synth, an RFT round from rft.sft_path): their group is made here from the launcher's environment, as Lightning
    would at a first fit, which then takes it as it is (its backend: gloo, and NCCL for CUDA tensors where there
    is a GPU, so that a later fit's gradients travel as they would have). One process, or a group already up: as
    `run_ranks`."""
    from lightning.fabric.plugins.environments import SLURMEnvironment, TorchElasticEnvironment

    if not dist.is_initialized():
        launched = next((env() for env in (TorchElasticEnvironment, SLURMEnvironment) if env.detect()), None)
        if launched is None or launched.world_size() == 1:
            return ALONE
        dist.init_process_group(
            "cpu:gloo,cuda:nccl" if torch.cuda.is_available() else "gloo",
            init_method=f"tcp://{launched.main_address}:{launched.main_port}",
            rank=launched.global_rank(),
            world_size=launched.world_size(),
            timeout=timedelta(seconds=timeout_s),
        )
    return run_ranks(timeout_s)


def check_engine_fits(cfg: DictConfig, gpus: int | None = None) -> None:
    """At start-up: one vLLM engine spans sampler.tensor_parallel_size GPUs of one node (`gpus`: this node's), and
    in a run of several ranks each engine spans that many of a node's ranks."""
    size = cfg.sampler.tensor_parallel_size
    gpus = torch.cuda.device_count() if gpus is None else gpus
    if cfg.sampler.name != "vllm" or size == 1:
        return
    if size > gpus:
        raise ConfigError(
            f"sampler.tensor_parallel_size={size}: one vLLM engine spans that many GPUs of one node, and this node "
            f"has {gpus}; lower it (or run on a node with {size} GPUs)"
        )
    per_node = world_size(cfg.trainer) // cfg.trainer.num_nodes
    if per_node > 1 and per_node % size:
        raise ConfigError(
            f"sampler.tensor_parallel_size={size}: each rank's vLLM engine spans that many of a node's ranks, and "
            f"a node runs {per_node} (trainer.devices); choose a divisor of {per_node}"
        )
