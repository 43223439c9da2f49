"""The reward of each sampled solution: the grader's verdict (the same `answers` grading as eval and RFT),
plus optional weighted terms, stored on the sample's own record.

    reward = correct + format x [an answer was extracted]
             + calculations x [the solution has calculations and every <<a op b = c>> holds]
             + verifier x p(correct) of a trained verifier (rl.reward_model)
             - overlong x DAPO's soft length penalty: 0 up to L - B tokens, rising linearly to 1 at the limit L
               (rl.max_new_tokens), B = rl.reward.overlong_buffer
A sample whose answer cannot be read is counted apart from a wrong one (its verdict is "unreadable"); its
correctness term is 0 like a wrong one's. A question whose gold answer the grader cannot read would reward
nothing, or worse, anything: such a row is refused when the questions are loaded.
"""

from collections.abc import Sequence
from dataclasses import dataclass

from mathlit.answers.calculator import calculations_hold, equations
from mathlit.answers.equiv import is_equiv
from mathlit.answers.grading import Grading
from mathlit.data.example import Example
from mathlit.errors import DataError

VERDICTS = ("correct", "wrong", "unreadable")


@dataclass(frozen=True)
class RewardWeights:
    """rl.reward.*: the weight of each optional term (0: off)."""

    format: float
    calculations: float
    verifier: float
    overlong: float = 0.0
    overlong_buffer: int = 0  # B: the last B tokens before max_tokens are penalised
    max_tokens: int = 0  # L: the generation limit

    @classmethod
    def from_config(cls, rl) -> "RewardWeights":
        r = rl.reward
        return cls(
            format=float(r.format),
            calculations=float(r.calculations),
            verifier=float(r.verifier),
            overlong=float(r.overlong),
            overlong_buffer=int(r.overlong_buffer),
            max_tokens=int(rl.max_new_tokens),
        )


def overlong_penalty(num_tokens: int, max_tokens: int, buffer: int) -> float:
    """DAPO's soft overlong punishment as a positive penalty: 0 up to max_tokens - buffer tokens, then linear
    to 1 at max_tokens (a sample cut off at the limit gets 1)."""
    return min(1.0, max(0, num_tokens - (max_tokens - buffer)) / buffer)


def check_golds(examples: Sequence[Example], grading: Grading) -> None:
    """A gold answer is readable when the grader finds it equal to itself (an empty or unparsable one is not):
    the first that is not is a DataError naming its row."""
    for e in examples:
        if not is_equiv(e.answer, e.answer, e.domain, grading.rel_tol, grading.fallback):
            raise DataError(f"{e.id}: gold answer {e.answer!r} cannot be read by the grader; fix or drop the row")


def verdict(record: dict) -> str:
    """correct | wrong | unreadable (no answer extracted, or grading failed on it)."""
    if record["correct"]:
        return "correct"
    return "unreadable" if record.get("answer") is None else "wrong"


def reward_terms(record: dict, weights: RewardWeights, verifier_score: float | None = None) -> dict[str, float]:
    """The unweighted terms of one graded record; only the terms with a weight are computed."""
    terms = {"correct": 1.0 if record["correct"] else 0.0}
    if weights.format:
        terms["format"] = 0.0 if record.get("answer") is None else 1.0
    if weights.calculations:
        # At least one calculation: else writing none would pay.
        text = record["completion"]
        terms["calculations"] = 1.0 if equations(text) and calculations_hold(text) else 0.0
    if weights.verifier:
        if verifier_score is None:
            raise ValueError("rl.reward.verifier has a weight but no verifier score was given")
        terms["verifier"] = float(verifier_score)
    if weights.overlong:
        terms["overlong"] = -overlong_penalty(record["num_tokens"], weights.max_tokens, weights.overlong_buffer)
    return terms


def reward_records(
    records: list[dict], weights: RewardWeights, verifier_scores: Sequence[float] | None = None
) -> list[dict]:
    """Each record with its `reward`, `reward_terms` and `verdict` added (new dicts, same order)."""
    if verifier_scores is not None and len(verifier_scores) != len(records):
        raise ValueError(f"{len(verifier_scores)} verifier scores for {len(records)} records")
    rewarded = []
    for i, record in enumerate(records):
        terms = reward_terms(record, weights, None if verifier_scores is None else verifier_scores[i])
        reward = terms["correct"] + sum(getattr(weights, k) * v for k, v in terms.items() if k != "correct")
        rewarded.append(record | {"reward": reward, "reward_terms": terms, "verdict": verdict(record)})
    return rewarded


def reward_rows(records: list[dict]) -> list[dict]:
    """What rewards.jsonl keeps of each rewarded record: which sample it is (the shards beside it hold the sample
    itself, its tokens and log-probs) and its reward, terms and verdict."""
    return [{k: r[k] for k in ("id", "sample_idx", "reward", "reward_terms", "verdict")} for r in records]


def reward_summary(records: list[dict]) -> dict[str, float]:
    """reward_mean and the share of each verdict over rewarded records."""
    n = max(len(records), 1)
    summary = {"reward_mean": sum(r["reward"] for r in records) / n}
    for v in VERDICTS:
        summary[f"share_{v}"] = sum(r["verdict"] == v for r in records) / n
    return summary
