"""Is a predicted answer equal to the gold one? Fast paths first, bounded symbolic work last."""

import re
from functools import lru_cache

from mathlit.answers.extract import normalize_number
from mathlit.answers.normalize import normalize
from mathlit.answers.numeric import numbers_equal, parse_number
from mathlit.answers.symbolic import checker

_WORDS = re.compile(r"[A-Za-z ]+|\([A-E]\)")  # "Evelyn", "(C)": text answers, compared as text only


def is_equiv(pred: str | None, gold: str | None, domain: str) -> bool:
    """GSM8K: numeric equality. MATH: normalised text, then numbers, then sympy on parsed LaTeX."""
    if not isinstance(pred, str) or not isinstance(gold, str) or not pred.strip() or not gold.strip():
        return False
    if domain == "gsm8k":
        p, g = parse_number(normalize_number(pred)), parse_number(normalize_number(gold))
        return p is not None and g is not None and numbers_equal(p, g)
    if domain != "math":
        raise ValueError(f"unknown answer domain {domain!r} (expected 'gsm8k' or 'math')")
    return _math_equiv(normalize(pred), normalize(gold))


@lru_cache(maxsize=200_000)
def _math_equiv(pred: str, gold: str) -> bool:
    if pred == gold:
        return True
    if not pred or not gold:
        return False
    p, g = parse_number(pred), parse_number(gold)
    if p is not None and g is not None:
        return numbers_equal(p, g)
    if _WORDS.fullmatch(pred) or _WORDS.fullmatch(gold):
        return pred.lower() == gold.lower()
    return checker().equal(pred, gold)
