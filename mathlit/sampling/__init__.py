"""Sampler backends behind one interface (base.Sampler), chosen by `sampler.name`; engine.PolicySampler keeps
one following the weights being trained."""

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
    """`hf` samples with the given in-memory model; `vllm` starts an engine on the HF folder `model_dir`;
    `openai` sends requests to the server at sampler.base_url."""
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

    return VLLMSampler(str(model_dir), tokenizer, cfg, seed)


class LazySampler:
    """Builds its backend on the first `generate`: a run whose samples are all on disk starts no engine."""

    def __init__(self, build):
        self._build, self._sampler = build, None

    def generate(self, prompts: list[str], params: SamplingParams) -> list[list[Completion]]:
        if self._sampler is None:
            self._sampler = self._build()
        elif hasattr(self._sampler, "wake_up"):
            self._sampler.wake_up()  # a no-op unless paused asleep
        return self._sampler.generate(prompts, params)

    def pause(self) -> None:
        """Between two uses with training in between: a vLLM engine that can sleep sleeps (GPU); one holding
        GPU memory otherwise is closed and rebuilt on the next generate; on CPU the backend stays as it is."""
        if self._sampler is None:
            return
        if getattr(self._sampler, "can_sleep", False):
            self._sampler.sleep()
        elif torch.cuda.is_available():
            self.close()

    def close(self) -> None:
        if self._sampler is not None:
            self._sampler.close()
            self._sampler = None


__all__ = ["Completion", "LazySampler", "Sampler", "SamplingParams", "make_sampler"]
