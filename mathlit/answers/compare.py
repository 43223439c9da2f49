"""Equality of parsed answers. Runs inside the bounded worker process (see symbolic.py)."""

import random

import sympy as sp

from mathlit.answers.latex import Collection, Equation, Matrix, ParseError, Seq, Union, parse_answer

# Answers hold exact numbers only (decimals parse to rationals), so equal values agree to all
# 60 digits evaluated; a relative 1e-40 leaves room for rounding and none for near misses
# such as 2^{1/10^{10}} = 1.00000000007 vs 1. Relative only: a tiny value is never 0.
DIGITS = 60
REL_TOL = sp.Float("1e-40", DIGITS)


def _close(a: sp.Expr, b: sp.Expr) -> bool:
    if a == b:
        return True
    if a == 0 or b == 0:
        return False
    return bool(abs(a - b) <= REL_TOL * sp.Max(abs(a), abs(b)))


def _numeric(e: sp.Expr) -> sp.Expr | None:
    value = sp.N(e, DIGITS)
    if value.has(sp.oo, -sp.oo, sp.zoo, sp.nan) or not value.is_number:
        return None
    return value


def exprs_equal(a: sp.Expr, b: sp.Expr) -> bool:
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


def nodes_equal(a, b) -> bool:
    if isinstance(a, sp.Basic) and isinstance(b, sp.Basic):
        return exprs_equal(a, b)
    if type(a) is not type(b):
        return False
    if isinstance(a, Equation):
        da, db = a.lhs - a.rhs, b.lhs - b.rhs
        # the same equation, not merely two equations that are both "something = 0"
        return (exprs_equal(a.lhs, b.lhs) and exprs_equal(a.rhs, b.rhs)) or exprs_equal(da, db) or exprs_equal(da, -db)
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


def texts_equal(pred: str, gold: str) -> bool:
    """Both normalised answers parse and are equal; an unparsable side is never equal."""
    try:
        return nodes_equal(parse_answer(pred), parse_answer(gold))
    except (ParseError, TypeError, ValueError, ZeroDivisionError, RecursionError, AttributeError):
        return False
