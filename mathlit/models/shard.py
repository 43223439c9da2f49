"""FSDP2 for LLaMA-family models: each decoder layer is a shard unit, then the root (embeddings, norm, head).

Called from the LightningModules' `configure_model` under trainer.strategy=fsdp2 (Lightning's
ModelParallelStrategy, which hands the module a device mesh); tied embeddings stay in the root unit.
"""

from torch import nn


def fully_shard_decoder(model: nn.Module, device_mesh) -> nn.Module:
    from torch.distributed.fsdp import FSDPModule, fully_shard

    if device_mesh is None or isinstance(model, FSDPModule):  # not sharded training, or already done
        return model
    mesh = device_mesh["data_parallel"]
    for layer in model.model.layers:
        fully_shard(layer, mesh=mesh)
    fully_shard(model, mesh=mesh)
    return model
