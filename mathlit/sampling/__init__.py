"""Sampler backends behind one interface (base.Sampler), chosen by `sampler.name`. Tasks sample through a
Policy (policy.py), which builds its backend here on first use."""

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
    per_rank: bool = False,
) -> Sampler:
    """`hf` samples with the given in-memory model; `vllm` starts an engine on the HF folder `model_dir` (`per_rank`:
    every rank of the run starts its own now, mathlit.sampling.vllm); `openai` sends requests to the server at
    sampler.base_url."""
    if cfg.name == "openai":
        from mathlit.sampling.server import OpenAISampler

        return OpenAISampler(cfg, tokenizer)
    if cfg.name == "hf":
        if model is None:
            from mathlit.models.build import DTYPES

            model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=DTYPES.get(cfg.dtype, "auto"))
            if torch.cuda.is_available():
                model = model.cuda()
        from mathlit.sampling.hf import HFSampler

        return HFSampler(model, tokenizer, cfg.batch_size)
    if model_dir is None:  # vllm
        raise ConfigError("sampler=vllm needs a saved model folder (model.path)")
    from mathlit.sampling.vllm import VLLMSampler

    return VLLMSampler(str(model_dir), tokenizer, cfg, seed, per_rank)


__all__ = ["Completion", "Sampler", "SamplingParams", "make_sampler"]
