"""Equality of parsed answers. Runs inside the bounded worker process (see symbolic.py)."""

import random
import re

import sympy as sp

from mathlit.answers.latex import Collection, Equation, Matrix, ParseError, Refused, Region, Seq, Union, parse_answer

# Answers hold exact numbers only (decimals parse to rationals), so equal values agree to all
# 60 digits evaluated; a relative 1e-40 leaves room for rounding and none for near misses
# such as 2^{1/10^{10}} = 1.00000000007 vs 1. Relative only: a tiny value is never 0. An answer
# written as a decimal is rounded: the caller passes answers.rel_tol for it (see equiv.py).
DIGITS = 60
EXACT_TOL = sp.Float("1e-40", DIGITS)
_rel_tol = EXACT_TOL  # the tolerance of the check in progress (one check at a time per worker)


def _close(a: sp.Expr, b: sp.Expr) -> bool:
    if a == b:
        return True
    if a == 0 or b == 0:
        return False
    return bool(abs(a - b) <= _rel_tol * sp.Max(abs(a), abs(b)))


def _undefined(e: sp.Basic) -> bool:
    return e.has(sp.zoo, sp.nan)


def _numeric(e: sp.Expr) -> sp.Expr | None:
    value = sp.N(e, DIGITS)
    if value.has(sp.oo, -sp.oo, sp.zoo, sp.nan) or not value.is_number:
        return None
    return value


def exprs_equal(a: sp.Expr, b: sp.Expr) -> bool:
    if _undefined(a) or _undefined(b):  # an undefined value equals nothing, itself included
        return False
    if a == b:
        return True
    if a.free_symbols or b.free_symbols:
        # Random probes refute most unequal pairs cheaply; simplify confirms the rest.
        symbols = sorted(a.free_symbols | b.free_symbols, key=str)
        rng = random.Random(0)
        for _ in range(3):
            point = {s: sp.Rational(rng.randint(1, 97), rng.randint(1, 13)) for s in symbols}
            va, vb = _numeric(a.subs(point)), _numeric(b.subs(point))
            if va is not None and vb is not None and not _close(va, vb):
                return False
        return sp.simplify(a - b) == 0
    va, vb = _numeric(a), _numeric(b)
    if va is None or vb is None:
        return bool(sp.simplify(a - b) == 0)
    return _close(va, vb)


def _matched(left: tuple, right: tuple) -> bool:
    """Order-free: every item of one pairs with a distinct equal item of the other."""
    if len(left) != len(right):
        return False
    unused = list(right)
    for item in left:
        match = next((j for j, other in enumerate(unused) if nodes_equal(item, other)), None)
        if match is None:
            return False
        unused.pop(match)
    return True


def _proportional(da: sp.Expr, db: sp.Expr) -> bool:
    """da = 0 and db = 0 are one equation when da = c * db for a non-zero constant c (3x+6y-2=0 and
    y=-x/2+1/3). c is read at a probe point, then the identity is checked everywhere."""
    if exprs_equal(da, db) or exprs_equal(da, -db):
        return True
    symbols = sorted(da.free_symbols | db.free_symbols, key=str)
    if not symbols:
        return False
    rng = random.Random(1)
    for _ in range(3):
        point = {s: sp.Rational(rng.randint(1, 97), rng.randint(1, 13)) for s in symbols}
        va, vb = _numeric(da.subs(point)), _numeric(db.subs(point))
        if va is not None and vb is not None and vb != 0 and va != 0:
            c = sp.simplify(da.subs(point) / db.subs(point))
            return not _undefined(c) and not c.free_symbols and exprs_equal(da, c * db)
    return False


def _as_set(node) -> sp.Set | None:
    """An interval, a union of intervals or an inequality as a set of reals; None for anything else."""
    if isinstance(node, Region):
        return node.set
    if isinstance(node, Seq) and len(node.items) == 2 and node.open in "([" and node.close in ")]":
        low, high = node.items
        if not all(
            isinstance(x, sp.Expr) and not x.free_symbols and x.is_extended_real is not False for x in (low, high)
        ):
            return None
        interval = sp.Interval(low, high, left_open=node.open == "(", right_open=node.close == ")")
        return None if interval.is_empty else interval
    if isinstance(node, Union):
        parts = [_as_set(p) for p in node.parts]
        return None if any(p is None for p in parts) else sp.Union(*parts)
    return None


def _same_set(a: sp.Set, b: sp.Set) -> bool:
    return a == b or a.symmetric_difference(b) == sp.S.EmptySet


def nodes_equal(a, b) -> bool:
    if isinstance(a, sp.Basic) and isinstance(b, sp.Basic):
        return exprs_equal(a, b)
    if isinstance(a, Region | Union) or isinstance(b, Region | Union):  # (-3,10) vs -3<a<10, [1,2]∪[2,3] vs [1,3]
        sa, sb = _as_set(a), _as_set(b)
        if sa is not None and sb is not None and not (isinstance(a, Region) and isinstance(b, Region)):
            return _same_set(sa, sb)
    if type(a) is not type(b):
        return False
    if isinstance(a, Equation):
        da, db = a.lhs - a.rhs, b.lhs - b.rhs
        # the same equation, not merely two equations that are both "something = 0"
        return (exprs_equal(a.lhs, b.lhs) and exprs_equal(a.rhs, b.rhs)) or _proportional(da, db)
    if isinstance(a, Region):
        return a.var == b.var and _same_set(a.set, b.set)
    if isinstance(a, Seq):
        return (
            (a.open, a.close) == (b.open, b.close)
            and len(a.items) == len(b.items)
            and all(nodes_equal(x, y) for x, y in zip(a.items, b.items, strict=True))
        )
    if isinstance(a, Collection):
        return _matched(a.items, b.items)
    if isinstance(a, Union):
        return _matched(a.parts, b.parts)
    if isinstance(a, Matrix):
        shape = [len(r) for r in a.rows]
        return shape == [len(r) for r in b.rows] and all(
            nodes_equal(x, y) for r, s in zip(a.rows, b.rows, strict=True) for x, y in zip(r, s, strict=True)
        )
    return False


EQUAL, UNEQUAL, FINAL = "1", "0", "F"  # FINAL: unequal, and no other checker may say otherwise


def _constant(node) -> bool:
    """A number (no free symbols, defined), or a tuple, set, list or matrix of numbers only."""
    if isinstance(node, sp.Expr):
        return not node.free_symbols and not _undefined(node)
    if isinstance(node, Seq | Collection):
        return all(_constant(x) for x in node.items)
    if isinstance(node, Matrix):
        return all(_constant(x) for row in node.rows for x in row)
    return False


_COMMAND = re.compile(r"\\[A-Za-z]+")
_WORD = re.compile(r"[A-Za-z]{2,}")  # "euros", "of the pie": words, not variables


def _final(a, b, texts: tuple[str, str]) -> bool:
    """Unequal here is unequal, and math-verify is not asked: both are numbers, containers of one kind holding
    numbers only, or a list of numbers against a number (compared exactly: 60 digits, or answers.rel_tol for a
    decimal; math-verify would round to 6 decimals, read a list as a set, 5;5 = 5, 1,2,2 = 1,2, and a decimal
    comma as a point, 0,111 = 0.111); or a number against a tuple, interval, matrix or inequality, or against an
    expression in variables (x^2+1, p-q), which no number equals. A number against words ("12 euros") is left
    to math-verify, which reads units."""
    kinds = {sp.Expr if isinstance(x, sp.Expr) else type(x) for x in (a, b)}
    several = all(len(x.items) > 1 for x in (a, b) if isinstance(x, Collection))  # {5} may be read as 5
    if (len(kinds) == 1 or (kinds == {sp.Expr, Collection} and several)) and _constant(a) and _constant(b):
        return True
    for number, other, text in ((a, b, texts[1]), (b, a, texts[0])):
        if isinstance(number, sp.Expr) and _constant(number):
            if isinstance(other, Seq | Matrix | Region | Union):
                return True
            if _in_variables(other) and not _WORD.search(_COMMAND.sub(" ", text)):
                return True
    return False


def _in_variables(node) -> bool:
    """An expression in variables; not one in e, which math-verify reads as Euler's number (e^2 = 7.389056)."""
    return isinstance(node, sp.Expr) and bool(node.free_symbols) and sp.Symbol("e") not in node.free_symbols


def texts_verdict(pred: str, gold: str, rel_tol: float = 0.0) -> str:
    """EQUAL, UNEQUAL (an unparsable side, or answers another checker may read better) or FINAL (see `_final`,
    and an answer past one of the parser's bounds: latex.Refused)."""
    global _rel_tol
    _rel_tol = max(EXACT_TOL, sp.Float(rel_tol, DIGITS))
    try:
        a, b = parse_answer(pred), parse_answer(gold)
        if nodes_equal(a, b):
            return EQUAL
        return FINAL if _final(a, b, (pred, gold)) else UNEQUAL
    except Refused:
        return FINAL
    except (ParseError, TypeError, ValueError, ZeroDivisionError, RecursionError, AttributeError, OverflowError):
        return UNEQUAL


def texts_equal(pred: str, gold: str, rel_tol: float = 0.0) -> bool:
    """Both normalised answers parse and are equal; an unparsable side is never equal. rel_tol > 0
    (an answer written as a decimal) loosens numeric comparison to that relative tolerance."""
    return texts_verdict(pred, gold, rel_tol) == EQUAL
