"""Lightning strategies by name: the only place that knows about DDP and FSDP, and that checks their settings.

`fsdp` is Lightning's FSDPStrategy (FSDP1, GPUs): each decoder layer (any family) is a shard unit and the
full state dict is gathered for export. `fsdp2` is per-layer `fully_shard` applied in the module's
`configure_model` under Lightning's ModelParallelStrategy; it also runs on CPU processes with gloo,
which is how the tests exercise sharded training without a GPU.
"""

from datetime import timedelta
from functools import partial

import torch
from lightning.pytorch.plugins.precision import FSDPPrecision
from lightning.pytorch.strategies import DDPStrategy, FSDPStrategy, ModelParallelStrategy, Strategy
from omegaconf import DictConfig
from torch.distributed.fsdp.wrap import lambda_auto_wrap_policy

from mathlit.config import TrainerConfig
from mathlit.errors import ConfigError

SHARDED = ("fsdp", "fsdp2")
VERIFIER_TASKS = ("verifier", "multitask")  # the tasks that train a verifier (verifier.head is read)


class FSDP2Strategy(ModelParallelStrategy):
    """ModelParallelStrategy as pure data parallelism: one shard per process on every node.

    Lightning's "auto" sizes give data_parallel = nodes and tensor_parallel = processes per node.
    """

    def setup_environment(self) -> None:
        self._data_parallel_size = self.num_nodes * self.num_processes
        super().setup_environment()


class ShardedFSDPPrecision(FSDPPrecision):
    """Lightning's FSDP precision with two changes, both about what FSDP1 does under `bf16-mixed`.

    Norm clipping: Lightning's refuses it (Lightning#19235: the plugin has no reference to the root FSDP module,
    and `torch.nn.utils.clip_grad_norm_` over local shards is wrong); the root's own `clip_grad_norm_` reduces
    the norm over every shard. Buffers and gradient reduction stay in fp32: Lightning's keeps buffers in bf16, so
    RoPE's `inv_freq` would train and export in bf16 while vLLM computes it in fp32 (transformers#29496), and
    gradients would be summed over ranks in bf16.
    """

    root: torch.nn.Module | None = None  # the root FSDP module, set by FSDP1Strategy once it has wrapped it

    def clip_grad_by_norm(self, optimizer, clip_val: float) -> None:
        self.root.clip_grad_norm_(clip_val)

    @property
    def mixed_precision_config(self):
        config = super().mixed_precision_config
        config.buffer_dtype = config.reduce_dtype = torch.float32
        return config


class FSDP1Strategy(FSDPStrategy):
    """Lightning's FSDPStrategy with ShardedFSDPPrecision in place of the FSDPPrecision Lightning gives it."""

    @FSDPStrategy.precision_plugin.setter
    def precision_plugin(self, plugin) -> None:
        if plugin is not None and not isinstance(plugin, ShardedFSDPPrecision):
            plugin = ShardedFSDPPrecision(plugin.precision, scaler=plugin.scaler)
        FSDPStrategy.precision_plugin.fset(self, plugin)

    def setup(self, trainer) -> None:
        super().setup(trainer)
        self.precision_plugin.root = self.model


def _is_decoder_layer(module: torch.nn.Module) -> bool:
    return type(module).__name__.endswith("DecoderLayer")


def materialize(module: torch.nn.Module) -> None:
    """FSDP1's param_init_fn: a module built on the meta device (every rank but 0 when loading model.path, see
    models/shard.reads_weights) gets empty tensors on this rank's device; sync_module_states fills them from rank 0."""
    device = torch.device("cuda", torch.cuda.current_device()) if torch.cuda.is_available() else torch.device("cpu")
    module.to_empty(device=device, recurse=False)


def check_strategy(cfg: DictConfig) -> None:
    """Every refusal of trainer.strategy with the rest of the config, in one place: called at start-up (before a
    multi-GB model is loaded for nothing) and by every stage (a stage's own config may differ)."""
    name = cfg.trainer.strategy
    if name == "fsdp" and not torch.cuda.is_available():
        raise ConfigError(
            "trainer.strategy=fsdp (the 7B+ scales' setting) needs CUDA GPUs and none is here: on CPU use "
            "scale=hf (one process) or trainer.strategy=fsdp2"
        )
    if name in SHARDED and cfg.model.lora.r > 0:
        raise ConfigError(
            f"model.lora.r={cfg.model.lora.r} with trainer.strategy={name} is not supported: "
            "use trainer.strategy=auto or ddp (a 7B LoRA fits one GPU)"
        )
    if name in SHARDED and cfg.task.name in VERIFIER_TASKS and cfg.verifier.head == "scalar":
        raise ConfigError("verifier.head=scalar is not sharded: use verifier.head=token with trainer.strategy=fsdp*")


def world_size(cfg: TrainerConfig) -> int:
    """The processes a trainer config runs: devices per node (a count, a list of ids, or auto / -1: every GPU, one
    process on a CPU) times nodes; what Lightning's trainer.world_size will be, known before one is built."""
    devices = cfg.devices
    if str(devices) in ("auto", "-1"):
        count = max(torch.cuda.device_count(), 1) if cfg.accelerator != "cpu" else 1
    elif str(devices).isdigit():
        count = int(devices)
    else:
        count = len(devices)  # a list of device ids
    return count * cfg.num_nodes


def build_strategy(cfg: TrainerConfig) -> str | Strategy:
    """The Lightning strategy of trainer.strategy. Its process group waits trainer.collective_timeout_s for a
    collective: while global rank 0 samples (RFT data between stages, for hours at k=100) the other ranks wait
    in one, and past Lightning's default 30 minutes the NCCL watchdog would abort the job."""
    one_process = cfg.devices == 1 and cfg.num_nodes == 1
    if cfg.strategy == "auto" and one_process:
        return "auto"
    backend = None if torch.cuda.is_available() else "gloo"
    timeout = timedelta(seconds=cfg.collective_timeout_s)
    if cfg.strategy in ("ddp", "auto"):  # Lightning's "auto" over several devices is DDP with its 30 minutes
        return DDPStrategy(process_group_backend=backend, timeout=timeout)
    if cfg.strategy == "fsdp":
        return FSDP1Strategy(
            # each decoder layer (LlamaDecoderLayer, Qwen2DecoderLayer, MistralDecoderLayer, ...) is a shard unit
            auto_wrap_policy=partial(lambda_auto_wrap_policy, lambda_fn=_is_decoder_layer),
            sharding_strategy="FULL_SHARD",
            state_dict_type="full",
            limit_all_gathers=True,
            sync_module_states=True,  # rank 0 read the weights; the other ranks built the model on meta
            param_init_fn=materialize,
            timeout=timeout,
        )
    # fsdp2: one full checkpoint file (resume and export alike), gathered on rank 0.
    return FSDP2Strategy(
        tensor_parallel_size=1, save_distributed_checkpoint=False, process_group_backend=backend, timeout=timeout
    )
