"""Lightning strategies by name: the only place that knows about DDP and FSDP.

`fsdp` is Lightning's FSDPStrategy (FSDP1, GPUs): each LLaMA decoder layer is a shard unit and the
full state dict is gathered for export. `fsdp2` is per-layer `fully_shard` applied in the module's
`configure_model` under Lightning's ModelParallelStrategy; it also runs on CPU processes with gloo,
which is how the tests exercise sharded training without a GPU.
"""

import torch
from lightning.pytorch.strategies import DDPStrategy, FSDPStrategy, ModelParallelStrategy, Strategy

from mathlit.config import Strategy as StrategyName


class FSDP2Strategy(ModelParallelStrategy):
    """ModelParallelStrategy as pure data parallelism: one shard per process on every node.

    Lightning's "auto" sizes give data_parallel = nodes and tensor_parallel = processes per node.
    """

    def setup_environment(self) -> None:
        self._data_parallel_size = self.num_nodes * self.num_processes
        super().setup_environment()


def build_strategy(name: StrategyName) -> str | Strategy:
    if name == "auto":
        return "auto"
    backend = None if torch.cuda.is_available() else "gloo"
    if name == "ddp":
        return DDPStrategy(process_group_backend=backend)
    if name == "fsdp":
        from transformers.models.llama.modeling_llama import LlamaDecoderLayer

        return FSDPStrategy(
            auto_wrap_policy={LlamaDecoderLayer},
            sharding_strategy="FULL_SHARD",
            state_dict_type="full",
            limit_all_gathers=True,
        )
    # fsdp2: one full checkpoint file (resume and export alike), gathered on rank 0.
    return FSDP2Strategy(tensor_parallel_size=1, save_distributed_checkpoint=False, process_group_backend=backend)
