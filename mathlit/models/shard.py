"""FSDP2 for LLaMA-family models: each decoder layer is a shard unit, then the root (embeddings, norm, head).

Called from the LightningModules' `configure_model` under trainer.strategy=fsdp2 (Lightning's
ModelParallelStrategy, which hands the module a device mesh); tied embeddings stay in the root unit.

Weights from model.path are read by global rank 0 alone: the other ranks build the model on the meta device
(`reads_weights`), and once sharded, every rank materialises its shards and rank 0 broadcasts the weights into
them. One full copy in host memory per job (rank 0's, fp32 for the 7B scales: ~28 GB), not one per GPU.
Under trainer.strategy=fsdp (FSDP1) the strategy does the same with `sync_module_states` (mathlit/strategies.py).
"""

from itertools import chain

import torch
import torch.distributed as dist
from torch import nn


def reads_weights(module) -> bool:
    """Whether this process reads model.path itself: not on ranks other than global rank 0 of a sharded strategy
    (those build an empty model on the meta device and receive rank 0's weights)."""
    from lightning.pytorch.strategies import FSDPStrategy, ModelParallelStrategy

    trainer = module._trainer
    if module.model_cfg.path is None or trainer is None:
        return True
    return not isinstance(trainer.strategy, (FSDPStrategy, ModelParallelStrategy)) or trainer.global_rank == 0


def fully_shard_decoder(model: nn.Module, device_mesh) -> nn.Module:
    from torch.distributed.fsdp import FSDPModule, fully_shard

    if device_mesh is None or isinstance(model, FSDPModule):  # not sharded training, or already done
        return model
    mesh = device_mesh["data_parallel"]
    empty = any(t.is_meta for t in chain(model.parameters(), model.buffers()))
    full = None if empty else model.state_dict()  # rank 0's weights, for the ranks that built an empty model
    for layer in model.model.layers:
        fully_shard(layer, mesh=mesh)
    fully_shard(model, mesh=mesh)
    if _on_any_rank(empty, mesh):
        _load_from_rank0(model, full, empty, mesh)
    return model


def _on_any_rank(flag: bool, mesh) -> bool:
    device = _device(mesh)
    value = torch.tensor([int(flag)], device=device)
    dist.all_reduce(value, op=dist.ReduceOp.MAX, group=mesh.get_group())
    return bool(value.item())


def _device(mesh) -> torch.device:
    return torch.device("cuda", torch.cuda.current_device()) if mesh.device_type == "cuda" else torch.device("cpu")


def _load_from_rank0(model: nn.Module, full: dict | None, empty: bool, mesh) -> None:
    from torch.distributed.checkpoint.state_dict import StateDictOptions, set_model_state_dict

    if empty:
        model.to_empty(device=_device(mesh))
    options = StateDictOptions(full_state_dict=True, broadcast_from_rank0=True)
    set_model_state_dict(model, full if dist.get_rank() == 0 else {}, options=options)
    # Non-persistent buffers (RoPE's inv_freq) are in no state dict: rank 0's own, sent as they are.
    for buffer in model.buffers():
        dist.broadcast(buffer, src=0, group=mesh.get_group())
