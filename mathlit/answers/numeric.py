"""Plain numbers: the fast path, before any symbolic work."""

import math
import re
from fractions import Fraction

_DECIMAL = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d{1,3})?")
_RATIO = re.compile(r"([-+]?\d+)/(\d+)")


def parse_number(text: str) -> Fraction | None:
    """'-3', '1234.5', '3/4', '2.5e3' -> an exact Fraction; anything else -> None.

    Strict: '1,234' is not a number here (in MATH it is a list); GSM8K callers normalize_number first.
    """
    s = text.strip().rstrip(".")
    if _DECIMAL.fullmatch(s):
        return Fraction(s)
    m = _RATIO.fullmatch(s)
    if m and int(m.group(2)) != 0:
        return Fraction(int(m.group(1)), int(m.group(2)))
    return None


def numbers_equal(a: Fraction, b: Fraction) -> bool:
    """Exactly equal, or within a relative 1e-6 (float formatting); never a loose absolute tolerance,
    which would call 0.00001 equal to 0."""
    return a == b or math.isclose(a, b, rel_tol=1e-6, abs_tol=0.0)
