"""Is the sampling engine running the trainer's weights? A probe that fails loudly when it is not.

Stale weights after a sync are a silent failure in peers' trainers: the engine keeps sampling
from an old model. After every sync we compare the engine's log-probs of a few probe prompts with
the trainer model's own; a mismatch above the tolerance raises. The tolerance follows the dtype the engine
computes in (rft.probe_tolerance overrides it): a bf16 engine's log-probs differ from an fp32 reference's by
rounding alone far more than an fp32 engine's do.
"""

import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from mathlit.data.tokenize import encode_prompts
from mathlit.models.likelihood import token_logprobs
from mathlit.sampling.vllm import WeightSyncError

# The largest log-prob gap that rounding alone explains, by the engine's compute dtype. fp32: what an fp32 engine
# shows against the trainer's fp32 copy (kernels differ, weights equal). Half precision: ~0.05, the figure the
# 7B RFT experiment was configured with; stale weights after a training stage differ by far more.
TOLERANCES = {torch.float32: 1e-3, torch.bfloat16: 0.05, torch.float16: 0.05}


def probe_tolerance(engine_dtype: torch.dtype, override: float | None = None) -> float:
    """rft.probe_tolerance when set, else the tolerance of the engine's compute dtype."""
    if override is not None:
        return override
    return TOLERANCES.get(engine_dtype, max(TOLERANCES.values()))


@torch.no_grad()
def reference_logprobs(
    model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, prompts: list[str]
) -> list[list[float]]:
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    result = []
    for prompt in prompts:
        ids = torch.tensor(encode_prompts(tokenizer, [prompt]), device=device)
        result.append(token_logprobs(model(input_ids=ids).logits[:, :-1], ids[:, 1:])[0].tolist())
    model.train(was_training)
    return result


def check_in_sync(
    engine, model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, prompts: list[str], tolerance: float | None
) -> float:
    """The largest log-prob difference on the probe prompts; raises WeightSyncError above the tolerance
    (None: the engine dtype's, see probe_tolerance)."""
    tolerance = probe_tolerance(engine.dtype, tolerance)
    ours, theirs = engine.prompt_logprobs(prompts), reference_logprobs(model, tokenizer, prompts)
    gap = max(abs(a - b) for x, y in zip(ours, theirs, strict=True) for a, b in zip(x, y, strict=True))
    if gap > tolerance:
        raise WeightSyncError(
            f"the sampling engine's log-probs differ from the trainer's by up to {gap:.4f} "
            f"(tolerance {tolerance}) after loading weights version {engine.version}"
        )
    return gap
