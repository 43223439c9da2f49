"""Exact arithmetic on calculator annotations such as <<48/2=24>>, without ever calling eval.

Grammar: numbers (1,234.5 and .5 too), + - * / x, parentheses, unary signs, ^ or ** with a small
integer exponent, and a trailing % (a hundredth). Anything else is not a calculation.
"""

import re
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
