"""A trainer's possibly sharded LM as a plain module that runs alone: to save, sample or evaluate."""

from weakref import WeakKeyDictionary

import lightning as L
import torch
from lightning.pytorch.strategies import FSDPStrategy, ModelParallelStrategy

# module -> (global step, rank 0's gathered copy or None): the weights of one step are gathered once
_gathered: "WeakKeyDictionary[L.LightningModule, tuple[int, object]]" = WeakKeyDictionary()


def gathered_model(trainer: L.Trainer, module: L.LightningModule):
    """On global rank 0, the trained LM (`module.model`) as a plain module; None elsewhere.

    Unsharded, that is the module's own LM. Under FSDP every rank must call it: the full weights are
    gathered collectively and rank 0 gets an unsharded copy, since sharded layers would wait for the
    other ranks. A copy is made once per optimizer step: the sampling callback at the end of a stage and
    the export after it share one gather (every rank sees the same step, so all skip it together).
    """
    if not isinstance(trainer.strategy, (FSDPStrategy, ModelParallelStrategy)):
        return module.model if trainer.is_global_zero else None
    cached = _gathered.get(module)
    if cached is not None and cached[0] == trainer.global_step:
        return cached[1]
    _gathered.pop(module, None)  # drop the previous copy before making the next
    copy = _unsharded_copy(trainer, module)
    _gathered[module] = (trainer.global_step, copy)
    return copy


def _unsharded_copy(trainer: L.Trainer, module: L.LightningModule):
    state = trainer.strategy.lightning_module_state_dict()
    if not trainer.is_global_zero:
        return None
    from transformers import AutoModelForCausalLM

    with torch.device("meta"):
        copy = AutoModelForCausalLM.from_config(module.model.config)
    weights = {k.removeprefix("model."): v for k, v in state.items() if k.startswith("model.")}
    copy.load_state_dict(weights, strict=False, assign=True)
    copy.tie_weights()
    for name, buffer in module.model.named_buffers():  # e.g. rotary frequencies: not in the state dict
        owner, _, attr = name.rpartition(".")
        setattr(copy.get_submodule(owner), attr, buffer.detach().to("cpu", copy=True))
    return copy
