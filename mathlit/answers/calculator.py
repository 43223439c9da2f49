"""Exact arithmetic on calculator annotations such as <<48/2=24>>, without ever calling eval.

Grammar: numbers (1,234.5 and .5 too), + - * / x, parentheses, unary signs, ^ or ** with a small
integer exponent, and a trailing % (a hundredth). Anything else is not a calculation.

A solution's calculations hold (`calculations_hold`) when every <<lhs=rhs>> annotation is true (|lhs - rhs|
< 1e-3) and the number written right after it, if any, is its rhs: RFT's filter, the process labels, the
error types and `eval.rerank=calculations` all check them here.
"""

import re
from dataclasses import dataclass
from fractions import Fraction

_TOKEN = re.compile(r"\s*(\d[\d,]*\.?\d*|\.\d+|\*\*|[-+*/x×÷^()%])")
MAX_CHARS = 200
MAX_EXPONENT = 64


class _Calc:
    def __init__(self, tokens: list[str]):
        self.tokens, self.i = tokens, 0

    def peek(self) -> str | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self) -> str:
        self.i += 1
        return self.tokens[self.i - 1]

    def expr(self) -> Fraction:
        value = self.term()
        while self.peek() in ("+", "-"):
            value = value + self.term() if self.take() == "+" else value - self.term()
        return value

    def term(self) -> Fraction:
        value = self.unary()
        while self.peek() in ("*", "x", "×", "/", "÷"):
            if self.take() in ("/", "÷"):
                value = value / self.unary()  # ZeroDivisionError: not a calculation
            else:
                value = value * self.unary()
        return value

    def unary(self) -> Fraction:
        if self.peek() in ("-", "+"):
            return -self.unary() if self.take() == "-" else self.unary()
        return self.power()

    def power(self) -> Fraction:
        base = self.atom()
        if self.peek() in ("^", "**"):
            self.take()
            exponent = self.unary()
            if exponent.denominator != 1 or abs(exponent) > MAX_EXPONENT:
                raise ValueError("exponent out of range")
            return base**exponent.numerator
        return base

    def atom(self) -> Fraction:
        tok = self.take() if self.peek() is not None else None
        if tok is None:
            raise ValueError("expression ends early")
        if tok == "(":
            value = self.expr()
            if self.peek() != ")":
                raise ValueError("unclosed parenthesis")
            self.take()
        elif tok[0].isdigit() or tok[0] == ".":
            value = Fraction(tok.replace(",", "").rstrip(".") or "0")
        else:
            raise ValueError(f"unexpected {tok!r}")
        while self.peek() == "%":
            self.take()
            value /= 100
        return value


def evaluate(text: str) -> Fraction | None:
    """The exact value of an arithmetic expression, or None if it is not one."""
    text = text.strip()
    if not text or len(text) > MAX_CHARS:
        return None
    tokens, pos = [], 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None or not m.group(1):
            return None
        tokens.append(m.group(1))
        pos = m.end()
    try:
        calc = _Calc(tokens)
        value = calc.expr()
        return value if calc.peek() is None else None
    except (ValueError, ZeroDivisionError, OverflowError):
        return None


_ANNOTATION = re.compile(r"<<([^<>]*)>>")
# Without annotations, calculations written inline: "12*3 = 36".
_NUM = r"-?\d[\d,]*(?:\.\d+)?"
_INLINE = re.compile(rf"(\(?{_NUM}(?:\s*[-+*/x×÷]\s*\(?{_NUM}\)?)+)\s*=\s*({_NUM}(?<!,))")


def equations(text: str) -> list[str]:
    """The path's calculations in order, spaces removed: its annotations, else its inline equations."""
    found = _ANNOTATION.findall(text)
    if not found:
        found = [f"{lhs}={rhs}" for lhs, rhs in _INLINE.findall(text)]
    return [e.replace(" ", "") for e in found]


# The number written right after an annotation: "<<53-37=16>>16" (a "$" or "-" may lead it).
_AFTER = re.compile(r"<<[^<>]*>>\$?(-?\d[\d,]*(?:\.\d+)?(?:/\d+)?)?")


def close(a: Fraction, b: Fraction) -> bool:
    """Two computed values agree: |a - b| < 1e-3 (a rounded result such as 10/3 = 3.333 still holds)."""
    return abs(a - b) < 1e-3


@dataclass(frozen=True)
class Calculation:
    """One <<lhs=rhs>> annotation as written, and what exact arithmetic makes of it."""

    start: int  # where the annotation starts in the text
    lhs: str
    rhs: str
    value: Fraction | None  # lhs computed; None: not a calculation (no "=", a word, a division by zero)
    claimed: Fraction | None  # rhs computed
    written: str | None  # the number written right after the annotation, if any
    written_value: Fraction | None

    @property
    def computes(self) -> bool:
        """lhs equals rhs."""
        return self.value is not None and self.claimed is not None and close(self.value, self.claimed)

    @property
    def copied(self) -> bool:
        """The number written right after the annotation, if any, is its rhs (else a copy slip)."""
        if self.written is None:
            return True
        return self.written_value is not None and self.claimed is not None and close(self.written_value, self.claimed)

    @property
    def holds(self) -> bool:
        """lhs equals rhs, and the number written after it, if any, is the rhs."""
        return self.computes and self.copied


def calculations(text: str) -> list[Calculation]:
    """Every <<lhs=rhs>> annotation of `text`, in order, computed."""
    found = []
    for match in _AFTER.finditer(text):
        inner = match.group(0)[2 : match.group(0).index(">>")]
        lhs, sep, rhs = inner.rpartition("=")
        if not sep:
            lhs, rhs = inner, ""
        after = match.group(1)
        written = evaluate(after.replace(",", "")) if after else None
        value, claimed = (evaluate(lhs), evaluate(rhs)) if sep else (None, None)
        found.append(Calculation(match.start(), lhs.strip(), rhs.strip(), value, claimed, after, written))
    return found


def first_bad_calculation(text: str) -> int | None:
    """Where the first calculation that does not hold starts in `text` (None: all hold). A calculation
    fails when its <<lhs=rhs>> is false, or the number written right after it is not its rhs (a copy slip
    such as `53-37=<<53-37=16>>17` teaches a wrong result even when the final answer comes out right)."""
    return next((c.start for c in calculations(text) if not c.holds), None)


def calculations_hold(text: str) -> bool:
    return first_bad_calculation(text) is None
