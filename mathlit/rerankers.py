"""What scores each of N samples before best-of-N, the weighted vote and cluster re-ranking (eval.rerank).

- `TrainedVerifier(folder)`: p(correct) by a verifier mathlit trained (task=verifier, multitask); a generative
  one writes its checks first, with the run's sampler (`cfg`), kept in `checks_dir`;
- `Likelihood(generator)`: the geometric-mean token probability of each completion under the model that wrote
  it; no training at all, so a verifier that does not beat it has learnt nothing the generator knew;
- `CalculatorCheck()`: 1 when every <<a op b = c>> annotation holds (a solution without any passes), else
  FAILED_CALCULATION, so the vote is among sound samples and a plain majority when every sample slips.
Each says which fields of a samples row it reads (`fields`), so a user's samples file is checked up front.
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from omegaconf import DictConfig

from mathlit.answers.calculator import calculations_hold
from mathlit.errors import ConfigError

# A sample whose calculations fail scores this, not 0: N of them sum below one passing sample (for N < 10,000),
# and when every sample fails the weighted vote is a plain majority vote, not the first answer seen.
FAILED_CALCULATION = 1e-4


class Reranker(Protocol):
    name: str  # where its re-ranking is reported (rerank.json's "verifier"), and its folder's name
    fields: tuple[str, ...]  # what it reads of a samples row besides the completion

    def score(self, records: list[dict]) -> list[float]: ...


@dataclass(frozen=True)
class CalculatorCheck:
    name: str = "calculations"
    fields: tuple[str, ...] = ()

    def score(self, records: list[dict]) -> list[float]:
        return [1.0 if calculations_hold(r["completion"]) else FAILED_CALCULATION for r in records]


@dataclass(frozen=True)
class Likelihood:
    generator: Path | None  # the saved model that wrote the samples
    name: str = "likelihood"
    fields: tuple[str, ...] = ("prompt",)

    def score(self, records: list[dict]) -> list[float]:
        from mathlit.models.likelihood import LikelihoodScorer

        if self.generator is None:
            raise ConfigError("eval.rerank=likelihood needs the model that wrote the samples: set model.path")
        return LikelihoodScorer(self.generator).score([(r["prompt"], r["completion"]) for r in records])


@dataclass(frozen=True)
class TrainedVerifier:
    folder: Path
    cfg: DictConfig | None = None  # the run's: a generative verifier samples its checks with its sampler
    checks_dir: Path | None = None  # where a generative verifier's checks are stored (resumable shards)
    fields: tuple[str, ...] = ("question",)

    @property
    def name(self) -> str:
        return str(self.folder)

    def score(self, records: list[dict]) -> list[float]:
        from mathlit.modules.verifier import Scorer

        scorer = Scorer(self.folder, cfg=self.cfg)
        scores = scorer.score([(r["question"], r["completion"]) for r in records], self.checks_dir)
        scorer.close()
        return scores


def reranker(
    value: str | Path | None,
    generator: str | Path | None,
    cfg: DictConfig | None = None,
    checks_dir: Path | None = None,
) -> Reranker | None:
    """eval.rerank as a re-ranker: a verifier folder, likelihood (of `generator`, the model that wrote the
    samples) or calculations; None: none. `cfg` and `checks_dir`: see TrainedVerifier."""
    if value is None:
        return None
    if str(value) == "calculations":
        return CalculatorCheck()
    if str(value) == "likelihood":
        return Likelihood(Path(generator) if generator is not None else None)
    if not (Path(value) / "config.json").exists():
        raise ConfigError(f"{value}: not a saved model folder (set by eval.rerank)")
    return TrainedVerifier(Path(value), cfg, checks_dir)


def baselines(chosen: Reranker, generator: str | Path | None) -> list[Reranker]:
    """Beside a trained verifier, what it must beat on the same samples: the calculator's check and, with
    the generator's folder, its likelihood."""
    if not isinstance(chosen, TrainedVerifier):
        return []
    return [CalculatorCheck()] + ([Likelihood(Path(generator))] if generator is not None else [])
