"""A trainer's possibly sharded LM as a plain module that runs alone: to save, sample or evaluate."""

import copy
from weakref import WeakKeyDictionary

import lightning as L
import torch
from lightning.pytorch.strategies import FSDPStrategy, ModelParallelStrategy

from mathlit.models.lora import is_lora, merged_state_dict

# module -> (global step, rank 0's gathered copy or None): the weights of one step are gathered once
_gathered: "WeakKeyDictionary[L.LightningModule, tuple[int, object]]" = WeakKeyDictionary()


def whole_on_every_rank(trainer: L.Trainer, module: L.LightningModule) -> bool:
    """Every rank holds the trained LM whole and plain (`module.model`: DDP or one process, no LoRA adapters to
    merge), so every rank can sample with it; sharded weights are whole only once gathered, on rank 0."""
    return not isinstance(trainer.strategy, (FSDPStrategy, ModelParallelStrategy)) and not is_lora(module.model)


def gathered_model(trainer: L.Trainer, module: L.LightningModule):
    """On global rank 0, the trained LM (`module.model`) as a plain module; None elsewhere.

    Unsharded, that is the module's own LM; with LoRA, a copy with the adapters merged. Under FSDP every
    rank must call it: the full weights are gathered collectively and rank 0 gets an unsharded copy, since
    sharded layers would wait for the other ranks. A copy is made once per optimizer step: the sampling
    callback at the end of a stage and the export after it share one gather (every rank sees the same step,
    so all skip it together).
    """
    if whole_on_every_rank(trainer, module):
        return module.model if trainer.is_global_zero else None
    cached = _gathered.get(module)
    if cached is not None and cached[0] == trainer.global_step:
        return cached[1]
    _gathered.pop(module, None)  # drop the previous copy before making the next
    plain = _unsharded_copy(trainer, module)
    _gathered[module] = (trainer.global_step, plain)
    return plain


def _unsharded_copy(trainer: L.Trainer, module: L.LightningModule):
    if is_lora(module.model):  # never sharded (strategies.check_strategy)
        if not trainer.is_global_zero:
            return None
        return plain_copy(module.model.get_base_model(), merged_state_dict(module.model))
    state = trainer.strategy.lightning_module_state_dict()
    if not trainer.is_global_zero:
        return None
    weights = {k.removeprefix("model."): v for k, v in state.items() if k.startswith("model.")}
    return plain_copy(module.model, weights, buffers_to="cpu")


def plain_copy(template, weights: dict[str, torch.Tensor], buffers_to: str | None = None):
    """A plain transformers model of `template`'s architecture (never quantized) holding `weights`."""
    from transformers import AutoModelForCausalLM

    config = copy.deepcopy(template.config)
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config)
    model.load_state_dict(weights, strict=False, assign=True)
    model.tie_weights()
    for name, buffer in template.named_buffers():  # e.g. rotary frequencies: not in the state dict
        owner, _, attr = name.rpartition(".")
        setattr(model.get_submodule(owner), attr, buffer.detach().to(buffers_to or buffer.device, copy=True))
    model.generation_config = copy.deepcopy(template.generation_config)
    return model
