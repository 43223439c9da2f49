"""Sampler backends behind one interface (base.Sampler), chosen by `sampler.name`."""

from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, PreTrainedModel, PreTrainedTokenizerBase

from mathlit.config import SamplerConfig
from mathlit.errors import ConfigError
from mathlit.sampling.base import Completion, Sampler, SamplingParams


def make_sampler(
    cfg: SamplerConfig,
    tokenizer: PreTrainedTokenizerBase,
    *,
    model: PreTrainedModel | None = None,
    model_dir: str | Path | None = None,
    seed: int = 0,
) -> Sampler:
    """`hf` samples with the given in-memory model; `vllm` starts an engine on the HF folder `model_dir`."""
    if cfg.name == "hf":
        if model is None:
            from mathlit.models.build import DTYPES

            model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=DTYPES.get(cfg.dtype, "auto"))
            if torch.cuda.is_available():
                model = model.cuda()
        from mathlit.sampling.hf import HFSampler

        return HFSampler(model, tokenizer, cfg.batch_size)
    if cfg.name == "vllm":
        if model_dir is None:
            raise ConfigError("sampler=vllm needs a saved model folder (model.path)")
        from mathlit.sampling.vllm import VLLMSampler

        return VLLMSampler(str(model_dir), tokenizer, cfg, seed)
    raise ConfigError(f"sampler.name must be hf or vllm, got {cfg.name!r}")


__all__ = ["Completion", "Sampler", "SamplingParams", "make_sampler"]
