"""Why a sampled solution is wrong (Xwin-Math's error analysis), one type per wrong sample, first match wins:

- truncated: generation hit the token limit (finish_reason "length");
- format: no final answer could be extracted;
- calculation: a calculation does not hold: a calculator annotation <<lhs=rhs>> (or the number copied after
  it), or, in a solution without annotations, an inline equation such as `12*3 = 37`;
- reasoning: every calculation holds, yet the answer is wrong.
"""

from collections import Counter

from mathlit.answers.calculator import calculations_hold, close, equations, evaluate

ERROR_TYPES = ("truncated", "format", "calculation", "reasoning")


def calculation_slip(text: str) -> bool:
    """A written calculation that does not hold. An annotation that does not evaluate counts (as in RFT's
    filter); an inline equation that does not evaluate is no calculation and does not."""
    if not calculations_hold(text):
        return True
    for equation in equations(text):  # the inline equations, when there are no annotations
        left, right = (evaluate(side) for side in equation.rpartition("=")[::2])
        if left is not None and right is not None and not close(left, right):
            return True
    return False


def error_type(record: dict) -> str | None:
    """The type of a wrong sample; None for a correct one."""
    if record["correct"]:
        return None
    if record.get("finish_reason") == "length":
        return "truncated"
    if record.get("answer") is None:
        return "format"
    return "calculation" if calculation_slip(record["completion"]) else "reasoning"


def count_error_types(records: list[dict]) -> dict:
    """Wrong samples by type, with each type's share of the wrong ones."""
    counts = Counter(kind for r in records if (kind := error_type(r)) is not None)
    wrong = sum(counts.values())
    return {
        "samples": len(records),
        "wrong": wrong,
        "counts": {kind: counts[kind] for kind in ERROR_TYPES},
        "shares": {kind: counts[kind] / wrong if wrong else 0.0 for kind in ERROR_TYPES},
    }
