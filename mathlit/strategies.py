"""Lightning strategies by name: the only place that knows about DDP and FSDP.

`fsdp` is Lightning's FSDPStrategy (FSDP1, GPUs): each decoder layer (any family) is a shard unit and the
full state dict is gathered for export. `fsdp2` is per-layer `fully_shard` applied in the module's
`configure_model` under Lightning's ModelParallelStrategy; it also runs on CPU processes with gloo,
which is how the tests exercise sharded training without a GPU.
"""

from functools import partial

import torch
from lightning.pytorch.strategies import DDPStrategy, FSDPStrategy, ModelParallelStrategy, Strategy
from torch.distributed.fsdp.wrap import lambda_auto_wrap_policy

from mathlit.config import Strategy as StrategyName
from mathlit.errors import ConfigError


class FSDP2Strategy(ModelParallelStrategy):
    """ModelParallelStrategy as pure data parallelism: one shard per process on every node.

    Lightning's "auto" sizes give data_parallel = nodes and tensor_parallel = processes per node.
    """

    def setup_environment(self) -> None:
        self._data_parallel_size = self.num_nodes * self.num_processes
        super().setup_environment()


def _is_decoder_layer(module: torch.nn.Module) -> bool:
    return type(module).__name__.endswith("DecoderLayer")


def check_strategy(name: StrategyName) -> None:
    """Checked at start-up too, before a multi-GB model is loaded for nothing."""
    if name == "fsdp" and not torch.cuda.is_available():
        raise ConfigError(
            "trainer.strategy=fsdp (the 7B+ scales' setting) needs CUDA GPUs and none is here: on CPU use "
            "scale=hf (one process) or trainer.strategy=fsdp2"
        )


def build_strategy(name: StrategyName) -> str | Strategy:
    if name == "auto":
        return "auto"
    backend = None if torch.cuda.is_available() else "gloo"
    if name == "ddp":
        return DDPStrategy(process_group_backend=backend)
    check_strategy(name)
    if name == "fsdp":
        return FSDPStrategy(
            # each decoder layer (LlamaDecoderLayer, Qwen2DecoderLayer, MistralDecoderLayer, ...) is a shard unit
            auto_wrap_policy=partial(lambda_auto_wrap_policy, lambda_fn=_is_decoder_layer),
            sharding_strategy="FULL_SHARD",
            state_dict_type="full",
            limit_all_gathers=True,
        )
    # fsdp2: one full checkpoint file (resume and export alike), gathered on rank 0.
    return FSDP2Strategy(tensor_parallel_size=1, save_distributed_checkpoint=False, process_group_backend=backend)
