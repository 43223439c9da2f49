"""Plain numbers: the fast path, before any symbolic work.

Model output is untrusted: a number of 5,000 digits or 1e400 must neither raise nor go through a float,
so parsing is bounded in length and comparison stays in exact Fractions.
"""

import re
from fractions import Fraction

REL_TOL = 1e-6  # the library's default; runs set answers.rel_tol in conf/config.yaml
MAX_NUMBER_CHARS = 400  # longer digit strings are compared as text only (int() refuses > 4,300 digits)

_DECIMAL = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d{1,3})?")
_RATIO = re.compile(r"([-+]?\d+)/(\d+)")


def parse_number(text: str) -> Fraction | None:
    """'-3', '1234.5', '3/4', '2.5e3' -> an exact Fraction; anything else, or anything too long -> None.

    Strict: '1,234' is not a number here (in MATH it is a list); GSM8K callers normalize_number first.
    """
    s = text.strip().rstrip(".")
    if len(s) > MAX_NUMBER_CHARS:
        return None
    if _DECIMAL.fullmatch(s):
        return Fraction(s)
    m = _RATIO.fullmatch(s)
    if m and int(m.group(2)) != 0:
        return Fraction(int(m.group(1)), int(m.group(2)))
    return None


def is_inexact(text: str) -> bool:
    """Written as a decimal ('0.333', '2.5e3'): a rounded value, compared within a relative tolerance."""
    return bool(re.search(r"\d\.\d|(?<![\w\\])\.\d|\d[eE][-+]?\d", text))


def numbers_equal(a: Fraction, b: Fraction, rel_tol: float = 0.0) -> bool:
    """Exactly equal, or within a relative rel_tol; never an absolute tolerance, which would call 0.00001
    equal to 0. Exact Fractions throughout: 1e400 never overflows a float."""
    if a == b:
        return True
    return rel_tol > 0 and abs(a - b) <= Fraction(rel_tol) * max(abs(a), abs(b))
