"""Is a predicted answer equal to the gold one? Fast paths first, bounded symbolic work last.

Never raises on any answer text: model output is untrusted, and one bad sample must not stop a job.
"""

import re
from functools import lru_cache

from mathlit.answers.extract import gsm8k_number
from mathlit.answers.normalize import normalize
from mathlit.answers.numeric import REL_TOL, is_inexact, numbers_equal, parse_number
from mathlit.answers.symbolic import checker

MAX_CHARS = 2000  # longer answers are compared as text only: no regex or parser sees a megabyte
# "Evelyn", "Alice,Bob", "(C)": text answers, compared as text only (as products of symbols, "Ailce" would
# equal "Alice"); a list of names in any order
_WORDS = re.compile(r"[A-Za-z ]+(?:,[A-Za-z ]+)*|\([A-E]\)")


def is_equiv(pred: str | None, gold: str | None, domain: str, rel_tol: float = REL_TOL) -> bool:
    """GSM8K: numeric equality. MATH: normalised text, then numbers, then sympy on parsed LaTeX.

    rel_tol: the relative tolerance for an answer written as a decimal on either side ('0.1428571' vs
    '\\frac{1}{7}'); exact forms (integers, fractions, radicals) are compared exactly. 0 turns it off.
    """
    if domain not in ("gsm8k", "math"):
        raise ValueError(f"unknown answer domain {domain!r} (expected 'gsm8k' or 'math')")
    if not isinstance(pred, str) or not isinstance(gold, str) or not pred.strip() or not gold.strip():
        return False
    if len(pred) > MAX_CHARS or len(gold) > MAX_CHARS:
        return pred.strip() == gold.strip()
    try:
        if domain == "gsm8k":
            p, g = gsm8k_number(pred), gsm8k_number(gold)
            return p is not None and g is not None and numbers_equal(p, g, _tolerance(pred, gold, rel_tol))
        return _math_equiv(pred, gold, rel_tol)
    except (ArithmeticError, ValueError, RecursionError, MemoryError):  # a bound we missed: unequal, not fatal
        return False


def _tolerance(pred: str, gold: str, rel_tol: float) -> float:
    return rel_tol if is_inexact(pred) or is_inexact(gold) else 0.0


@lru_cache(maxsize=200_000)
def _math_equiv(raw_pred: str, raw_gold: str, rel_tol: float) -> bool:
    pred, gold = normalize(raw_pred), normalize(raw_gold)
    if pred == gold:
        return bool(pred)
    if not pred or not gold:
        return False
    tol = _tolerance(pred, gold, rel_tol)
    p, g = parse_number(pred), parse_number(gold)
    if p is not None and g is not None:
        return numbers_equal(p, g, tol)
    if _WORDS.fullmatch(pred) or _WORDS.fullmatch(gold):
        return sorted(pred.lower().split(",")) == sorted(gold.lower().split(","))
    if checker().equal(pred, gold, tol):
        return True
    # "y = 2x+1" lost its label above; as equations, "3x+6y-2=0" and "y=-x/2+1/3" are one line
    if "=" in raw_pred and "=" in raw_gold:
        labelled = normalize(raw_pred, strip_label=False), normalize(raw_gold, strip_label=False)
        return labelled != (pred, gold) and checker().equal(*labelled, tol)
    return False
