"""The generator's own likelihood as a re-ranking score (eval.rerank=likelihood): no training at all, so a
trained verifier that does not beat it has learnt nothing the generator did not already know."""

from pathlib import Path

import torch
import torch.nn.functional as F
from transformers import AutoModelForCausalLM, AutoTokenizer

from mathlit.data.batching import pad_batch
from mathlit.data.tokenize import IGNORE, encode_sft


def token_logprobs(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """log p(target) at each position, in fp32, and 0 where the target is IGNORE: `logits` [batch, T, vocab]
    predicting `targets` [batch, T]. Training losses, the likelihood score and the weight-sync probe all
    reduce these; only the reduction differs."""
    return -F.cross_entropy(logits.float().transpose(1, 2), targets, ignore_index=IGNORE, reduction="none")


class LikelihoodScorer:
    """exp(mean log-probability per completion token), EOS included as the sampler ended it, under the
    model in `folder` given the prompt the completion was sampled from: the geometric-mean token
    probability, in (0, 1] like a verifier's p(correct), so weighted votes add positive weights."""

    def __init__(self, folder: str | Path, batch_size: int = 32, device: str | None = None):
        self.tokenizer = AutoTokenizer.from_pretrained(folder)
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.model = AutoModelForCausalLM.from_pretrained(folder).to(self.device).eval()
        self.batch_size = batch_size

    @torch.no_grad()
    def score(self, pairs: list[tuple[str, str]]) -> list[float]:
        """The geometric-mean token probability of each (prompt, completion)."""
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else self.tokenizer.eos_token_id
        scores: list[float] = []
        for start in range(0, len(pairs), self.batch_size):
            prompts, completions = zip(*pairs[start : start + self.batch_size], strict=True)
            batch = pad_batch(encode_sft(self.tokenizer, list(prompts), list(completions)), pad)
            batch = {k: v.to(self.device) for k, v in batch.items()}
            logits = self.model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits[:, :-1]
            labels = batch["labels"][:, 1:]
            targets = labels != IGNORE
            logp = token_logprobs(logits, labels)
            scores += torch.exp(logp.sum(dim=1) / targets.sum(dim=1).clamp(min=1)).tolist()
        return scores
