"""Is a predicted answer equal to the gold one? Fast paths first, bounded symbolic work last, math-verify behind it.

mathlit decides first: exact numbers, normalised text, then its parser and sympy in the bounded worker. Only a
MATH answer it does not find equal, and whose inequality it cannot prove (two numbers, or lists and matrices of
numbers, are compared exactly and that verdict is final), goes to the fallback (answers.fallback=math_verify):
math-verify compares the two answers mathlit extracted, in the same worker, under the same time and memory caps.
GSM8K answers are numbers: mathlit's verdict is always final there.

Never raises on any answer text: model output is untrusted, and one bad sample must not stop a job.
"""

import re
from dataclasses import dataclass
from functools import lru_cache

from mathlit.answers.compare import EQUAL, FINAL
from mathlit.answers.extract import gsm8k_number
from mathlit.answers.normalize import normalize
from mathlit.answers.numeric import REL_TOL, is_inexact, numbers_equal, parse_number
from mathlit.answers.symbolic import checker

FALLBACKS = ("none", "math_verify")  # answers.fallback
FAST_PATH, FALLBACK = "fast_path", "fallback"  # Verdict.decided_by
MAX_CHARS = 2000  # longer answers are compared as text only: no regex or parser sees a megabyte
# "Evelyn", "Alice,Bob", "(C)": text answers, compared as text only (as products of symbols, "Ailce" would
# equal "Alice"); a list of names in any order
_WORDS = re.compile(r"[A-Za-z ]+(?:,[A-Za-z ]+)*|\([A-E]\)")
# 52_8, 101_{2}: a number in a base, which math-verify reads as the bare digits (52_9 = 52_8): never asked
_BASE = re.compile(r"(?<![A-Za-z\\_^])[0-9A-F]+_\{?\d+\}?")


@dataclass(frozen=True)
class Verdict:
    equal: bool
    decided_by: str  # fast_path (mathlit) | fallback (math-verify)
    failure: str | None = None  # "<checker>: timeout|crash": the bounded worker gave no answer (then unequal)


def judge(
    pred: str | None, gold: str | None, domain: str, rel_tol: float = REL_TOL, fallback: str = "math_verify"
) -> Verdict:
    """Equality of two extracted answers and which path decided it (see the module's docstring).

    rel_tol: the relative tolerance for an answer written as a decimal on either side ('0.1428571' vs
    '\\frac{1}{7}'); exact forms (integers, fractions, radicals) are compared exactly. 0 turns it off.
    """
    if domain not in ("gsm8k", "math"):
        raise ValueError(f"unknown answer domain {domain!r} (expected 'gsm8k' or 'math')")
    if fallback not in FALLBACKS:
        raise ValueError(f"unknown answer fallback {fallback!r} (answers.fallback: expected none or math_verify)")
    if not isinstance(pred, str) or not isinstance(gold, str) or not pred.strip() or not gold.strip():
        return Verdict(False, FAST_PATH)
    if len(pred) > MAX_CHARS or len(gold) > MAX_CHARS:
        return Verdict(pred.strip() == gold.strip(), FAST_PATH)
    try:
        if domain == "gsm8k":
            p, g = gsm8k_number(pred), gsm8k_number(gold)
            equal = p is not None and g is not None and numbers_equal(p, g, _tolerance(pred, gold, rel_tol))
            return Verdict(equal, FAST_PATH)
        return _math_verdict(pred, gold, rel_tol, fallback)
    except (ArithmeticError, ValueError, RecursionError, MemoryError):  # a bound we missed: unequal, not fatal
        return Verdict(False, FAST_PATH)


def is_equiv(pred: str | None, gold: str | None, domain: str, rel_tol: float = REL_TOL, fallback: str = "none") -> bool:
    """GSM8K: numeric equality. MATH: normalised text, then numbers, then sympy on parsed LaTeX, then with
    fallback="math_verify" math-verify. See `judge`. Grading goes through `grade_answer` with answers.*; this
    comparison of two answers (maj@k's clusters, synth's majority labels) is mathlit's alone by default: fast,
    and never larger clusters than the grader's own verdicts would allow."""
    return judge(pred, gold, domain, rel_tol, fallback).equal


def _tolerance(pred: str, gold: str, rel_tol: float) -> float:
    return rel_tol if is_inexact(pred) or is_inexact(gold) else 0.0


# "12 euros" read from prose: words after a value are its unit, which math-verify drops inside \text{}
_TRAILING_WORDS = re.compile(r"(.*[\d}])\s+([A-Za-z]+(?:\s+[A-Za-z]+){0,3})\.?")
# ... unless they qualify or deny the value ("5 or more", "5 at most", "5 is wrong"): that is another answer, which
# math-verify would read as the bare value. Such an answer never goes to the fallback.
_QUALIFIERS = frozenset(
    "or and nor not no is isn't are at least most more less fewer greater higher lower than up to times over under "
    "above below about approximately around nearly almost roughly except plus minus per wrong incorrect".split()
)


_DELIMITED = re.compile(r"\\\[(.*)\\\]|\\\((.*)\\\)", re.DOTALL)  # \[ 9 \], \( 9 \): one span


def _qualified(answer: str) -> bool:
    """A value followed by words that qualify or deny it ("5 or more", "x^2 at most")."""
    m = _TRAILING_WORDS.fullmatch(answer.strip().strip("*").strip().strip("$").strip())
    return bool(m) and any(word.lower() in _QUALIFIERS for word in m.group(2).split())


def _bare(answer: str) -> str:
    """The answer as math-verify reads it, inside one $...$ span: without its own delimiters and markdown."""
    answer = answer.strip().strip("*").strip().strip("$").strip()
    if m := _DELIMITED.fullmatch(answer):
        answer = (m.group(1) if m.group(1) is not None else m.group(2)).strip()
    m = _TRAILING_WORDS.fullmatch(answer)
    return rf"{m.group(1)} \text{{ {m.group(2)}}}" if m else answer


@lru_cache(maxsize=200_000)
def _math_verdict(raw_pred: str, raw_gold: str, rel_tol: float, fallback: str) -> Verdict:
    pred, gold = normalize(raw_pred), normalize(raw_gold)
    if pred == gold:
        return Verdict(bool(pred), FAST_PATH)
    if not pred or not gold:
        return Verdict(False, FAST_PATH)
    tol = _tolerance(pred, gold, rel_tol)
    p, g = parse_number(pred), parse_number(gold)
    if p is not None and g is not None:  # two numbers: exact, final (1e400 is not 1)
        return Verdict(numbers_equal(p, g, tol), FAST_PATH)
    if _WORDS.fullmatch(pred) or _WORDS.fullmatch(gold):
        return Verdict(sorted(pred.lower().split(",")) == sorted(gold.lower().split(",")), FAST_PATH)
    verdict, failure = checker().ask("mathlit", pred, gold, tol)
    if verdict == EQUAL:
        return Verdict(True, FAST_PATH)
    # "y = 2x+1" lost its label above; as equations, "3x+6y-2=0" and "y=-x/2+1/3" are one line
    if failure is None and "=" in raw_pred and "=" in raw_gold:
        labelled = normalize(raw_pred, strip_label=False), normalize(raw_gold, strip_label=False)
        if labelled != (pred, gold) and checker().equal(*labelled, tol):
            return Verdict(True, FAST_PATH)
    if failure is not None:  # an answer sympy could not finish in time will not be kinder to math-verify
        return Verdict(False, FAST_PATH, f"mathlit: {failure}")
    if verdict == FINAL or fallback == "none" or _BASE.search(raw_pred) or _BASE.search(raw_gold):
        return Verdict(False, FAST_PATH)
    if _qualified(raw_pred) or _qualified(raw_gold):
        return Verdict(False, FAST_PATH)
    verdict, failure = checker().ask("math_verify", _bare(raw_pred), _bare(raw_gold))
    return Verdict(verdict == EQUAL, FALLBACK, failure and f"math_verify: {failure}")
