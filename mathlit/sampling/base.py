"""The sampler interface every backend implements: prompts in, n completions per prompt out."""

from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class SamplingParams:
    n: int = 1
    temperature: float = 0.0  # 0 = greedy
    top_p: float = 1.0
    max_new_tokens: int = 256
    stop: tuple[str, ...] = ()
    seed: int = 0
    logprobs: bool = False  # also each completion's sampled token ids and their log-probs (Completion.meta)


@dataclass(frozen=True)
class Completion:
    text: str
    num_tokens: int
    finish_reason: str  # "stop" (EOS or a stop string) or "length"
    meta: dict = field(default_factory=dict, compare=False)


class Sampler(Protocol):
    def generate(self, prompts: list[str], params: SamplingParams) -> list[list[Completion]]:
        """For each prompt, `params.n` completions."""

    def close(self) -> None:
        """Release the backend's memory (engine, KV cache)."""


def cut_at_stop(text: str, stop: tuple[str, ...]) -> tuple[str, bool]:
    """Text up to the first stop string, and whether one was found."""
    cuts = [i for i in (text.find(s) for s in stop) if i >= 0]
    return (text[: min(cuts)], True) if cuts else (text, False)
