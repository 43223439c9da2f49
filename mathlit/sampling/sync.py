"""Is the sampling engine running the trainer's weights? A probe that fails loudly when it is not.

Stale weights after a sync are a silent failure in peers' trainers: the engine keeps sampling
from an old model. After every sync we compare the engine's log-probs of a few probe prompts with
the trainer model's own; a mismatch above `tolerance` raises.
"""

import torch
import torch.nn.functional as F
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from mathlit.data.tokenize import encode_prompts
from mathlit.sampling.vllm import WeightSyncError


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
        logprobs = F.log_softmax(model(input_ids=ids).logits[0, :-1].float(), dim=-1)
        result.append(logprobs.gather(1, ids[0, 1:, None])[:, 0].tolist())
    model.train(was_training)
    return result


def check_in_sync(
    engine, model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, prompts: list[str], tolerance: float
) -> float:
    """The largest log-prob difference on the probe prompts; raises WeightSyncError above tolerance."""
    ours, theirs = engine.prompt_logprobs(prompts), reference_logprobs(model, tokenizer, prompts)
    gap = max(abs(a - b) for x, y in zip(ours, theirs, strict=True) for a, b in zip(x, y, strict=True))
    if gap > tolerance:
        raise WeightSyncError(
            f"the sampling engine's log-probs differ from the trainer's by up to {gap:.4f} "
            f"(tolerance {tolerance}) after loading weights version {engine.version}"
        )
    return gap
