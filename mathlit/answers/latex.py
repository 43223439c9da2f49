"""A whitelisted LaTeX parser for final answers: builds sympy objects, never executes text.

`sympify` and `parse_expr` evaluate Python, so model output never reaches them. This recursive-
descent parser knows a fixed grammar (numbers, letters, + - * / ^ !, \\frac, \\sqrt, \\binom, \\pi,
\\infty, i, trig/log functions, |x|, floor/ceiling) and the shapes final answers take: equations,
tuples and intervals (bracket kinds are kept: [1,2) is not (1,2)), sets, comma lists, \\pm, matrices.
Anything else raises ParseError. Inputs are bounded in length, nesting and number size; the caller
still runs it in a separate process under a time and memory limit.
"""

import re
from dataclasses import dataclass

import sympy as sp


class ParseError(ValueError):
    pass


class Refused(ParseError):
    """An answer past a bound (too long, too deep, too large a value, a division by zero): refused by design, and
    no other checker is asked about it (math-verify would spend its whole time limit on (10^{100})!)."""


MAX_CHARS = 600
MAX_DEPTH = 50
MAX_EXPONENT = 2000  # |n|^k with k above this is refused: 9^{9^{9^9}} must not be computed

_TOKEN = re.compile(r"\s*(\d+\.\d*|\.\d+|\d|\\[a-zA-Z]+|\\[{}|,;!]|\\\\|[a-zA-Z]|[-+*/^_=(){}\[\],;|!<>&'.:])")
GREEK = {
    "alpha",
    "beta",
    "gamma",
    "delta",
    "epsilon",
    "varepsilon",
    "zeta",
    "eta",
    "theta",
    "vartheta",
    "iota",
    "kappa",
    "lambda",
    "mu",
    "nu",
    "xi",
    "rho",
    "sigma",
    "tau",
    "upsilon",
    "phi",
    "varphi",
    "chi",
    "psi",
    "omega",
    "Gamma",
    "Delta",
    "Theta",
    "Lambda",
    "Xi",
    "Sigma",
    "Phi",
    "Psi",
    "Omega",
}
FUNCTIONS = {
    "sin": sp.sin,
    "cos": sp.cos,
    "tan": sp.tan,
    "cot": sp.cot,
    "sec": sp.sec,
    "csc": sp.csc,
    "arcsin": sp.asin,
    "arccos": sp.acos,
    "arctan": sp.atan,
    "ln": sp.log,
    "exp": sp.exp,
    "sinh": sp.sinh,
    "cosh": sp.cosh,
    "tanh": sp.tanh,
}
_GREATER = {">", "\\gt", "\\geq"}
_STRICT = {"<", "\\lt", ">", "\\gt"}
_INEQUALITIES = {"<", "\\lt", "\\leq", ">", "\\gt", "\\geq"}
MATRICES = {"pmatrix", "bmatrix", "matrix", "vmatrix", "array"}


@dataclass(frozen=True)
class Seq:
    """A bracketed sequence: a point/tuple (1, 2), an interval [1, 2), a vector."""

    items: tuple
    open: str
    close: str


@dataclass(frozen=True)
class Collection:
    """Order-free answers: a set {1, 2}, a bare list '1, 2', or the two values of a ± b."""

    items: tuple


@dataclass(frozen=True)
class Equation:
    lhs: sp.Expr
    rhs: sp.Expr


@dataclass(frozen=True)
class Region:
    """An inequality's solution set: x <= 5, -3 < a < 10 (compared with intervals as sets)."""

    var: sp.Symbol
    set: sp.Set


@dataclass(frozen=True)
class Matrix:
    rows: tuple


@dataclass(frozen=True)
class Union:
    parts: tuple


def tokenize(text: str) -> list[str]:
    if len(text) > MAX_CHARS:
        raise Refused("answer too long")
    tokens, pos = [], 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise ParseError(f"unexpected character {text[pos]!r}")
        tokens.append(m.group(1))
        pos = m.end()
    return tokens


class _Parser:
    def __init__(self, tokens: list[str]):
        self.tokens, self.i, self.depth = tokens, 0, 0

    # --- token helpers
    def peek(self, offset: int = 0) -> str | None:
        j = self.i + offset
        return self.tokens[j] if j < len(self.tokens) else None

    def take(self, expected: str | None = None) -> str:
        tok = self.peek()
        if tok is None or (expected is not None and tok != expected):
            raise ParseError(f"expected {expected or 'more input'}, got {tok!r}")
        self.i += 1
        return tok

    def nest(self):
        parser = self

        class _Depth:
            def __enter__(self):
                parser.depth += 1
                if parser.depth > MAX_DEPTH:
                    raise Refused("nested too deeply")

            def __exit__(self, *exc):
                parser.depth -= 1

        return _Depth()

    # --- answers: lists, equations, unions
    def answer(self):
        items = [self.relation()]
        while self.peek() in (",", ";"):
            self.take()
            items.append(self.relation())
        if self.peek() is not None:
            raise ParseError(f"unexpected {self.peek()!r}")
        return items[0] if len(items) == 1 else Collection(tuple(items))

    def relation(self):
        left = self.union()
        if self.peek() in _INEQUALITIES:
            return self.inequality(left)
        if self.peek() == "=":
            self.take()
            right = self.union()
            if not (isinstance(left, sp.Basic) and isinstance(right, sp.Basic)):
                raise ParseError("equation between non-expressions")
            return Equation(left, right)
        return left

    def inequality(self, first) -> Region:
        """a < x, x \\geq b, a < x \\leq b: one variable against constant bounds."""
        items, strict, greater = [_arith(first)], [], set()
        while self.peek() in _INEQUALITIES:
            op = self.take()
            strict.append(op in _STRICT)
            greater.add(op in _GREATER)
            items.append(_arith(self.expr()))
        if len(greater) > 1:
            raise ParseError("mixed inequality directions")
        if True in greater:  # b >= x > a: read it the other way round
            items, strict = items[::-1], strict[::-1]
        symbols = [k for k, item in enumerate(items) if isinstance(item, sp.Symbol)]
        if len(items) > 3 or len(symbols) != 1 or any(item.free_symbols for item in items if not item.is_Symbol):
            raise ParseError("not an inequality in one variable")
        k = symbols[0]
        low = (items[0], strict[0]) if k > 0 else (-sp.oo, True)
        high = (items[k + 1], strict[k]) if k + 1 < len(items) else (sp.oo, True)
        return Region(items[k], sp.Interval(low[0], high[0], left_open=low[1], right_open=high[1]))

    def union(self):
        parts = [self.expr()]
        while self.peek() == "\\cup":
            self.take()
            parts.append(self.expr())
        return parts[0] if len(parts) == 1 else Union(tuple(parts))

    # --- arithmetic
    def expr(self):
        with self.nest():
            node = self.term()
            while self.peek() in ("+", "-", "\\pm", "\\mp"):
                op = self.take()
                right = self.term()
                if op in ("\\pm", "\\mp"):
                    node = Collection((_arith(node) + _arith(right), _arith(node) - _arith(right)))
                else:
                    node = _arith(node) + _arith(right) if op == "+" else _arith(node) - _arith(right)
            return node

    def term(self):
        node = self.unary()
        while True:
            tok = self.peek()
            if tok in ("*", "\\cdot", "\\times"):
                self.take()
                node = _arith(node) * _arith(self.unary())
            elif tok in ("/", "\\div"):
                self.take()
                node = _divide(_arith(node), _arith(self.unary()))
            elif tok is not None and self._starts_atom(tok):  # implicit product: 2x, 3\sqrt{2}, x(y+1)
                node = _arith(node) * _arith(self.power())
            else:
                return node

    def unary(self):
        tok = self.peek()
        if tok in ("-", "+"):
            self.take()
            value = self.unary()
            return -_arith(value) if tok == "-" else value
        if tok in ("\\pm",):
            self.take()
            value = _arith(self.unary())
            return Collection((value, -value))
        return self.power()

    def power(self):
        base = self.postfix()
        if self.peek() == "^":
            self.take()
            exponent = self.script()
            return _pow(_arith(base), _arith(exponent))
        return base

    def postfix(self):
        node = self.atom()
        while self.peek() in ("!", "'"):
            if self.take() == "!":
                value = _arith(node)
                if value.is_Integer and value > 500:
                    raise Refused("factorial too large")
                node = sp.factorial(value)
            else:
                raise ParseError("primes are not values")
        return node

    def script(self):
        """What follows ^ or _: a braced group or one token (x^23 is x^2 * 3 in LaTeX)."""
        if self.peek() == "{":
            return self.group()
        tok = self.peek()
        if tok is not None and (tok.isdigit() and len(tok) == 1 or tok.isalpha() and len(tok) == 1):
            self.take()
            return sp.Integer(int(tok)) if tok.isdigit() else sp.Symbol(tok)
        return self.atom()

    def group(self):
        self.take("{")
        node = self.relation_list_until("}")
        self.take("}")
        return node

    def relation_list_until(self, closer: str):
        items = [self.expr()]
        while self.peek() == ",":
            self.take()
            items.append(self.expr())
        if self.peek() != closer:
            raise ParseError(f"expected {closer!r}")
        return items[0] if len(items) == 1 else Collection(tuple(items))

    def _starts_atom(self, tok: str) -> bool:
        if tok[0].isdigit() or tok[0] == "." and len(tok) > 1 or tok.isalpha() or tok in ("(", "\\{"):
            return True
        return tok.startswith("\\") and tok[1:] in (
            {"frac", "sqrt", "pi", "infty", "binom", "lfloor", "lceil", "log", "begin"} | GREEK | set(FUNCTIONS)
        )

    # --- atoms
    def atom(self):
        with self.nest():
            tok = self.take()
            if tok[0].isdigit() or (tok[0] == "." and len(tok) > 1):
                digits = tok
                while self.peek() is not None and self.peek().isdigit() and digits.replace(".", "").isdigit():
                    digits += self.take()  # digits are single tokens so that x^23 works; rejoin numbers here
                if self.peek() == "." and self.peek(1) is not None and self.peek(1).isdigit():
                    digits += self.take() + self.take()
                    while self.peek() is not None and self.peek().isdigit():
                        digits += self.take()
                return sp.Rational(digits)
            if tok.isalpha() and len(tok) == 1:
                return self._subscripted(sp.I if tok == "i" else sp.Symbol(tok), tok)
            if tok in ("(", "["):
                return self._bracketed(tok)
            if tok == "{":
                self.i -= 1
                return self.group()
            if tok == "\\{":
                items = [self.expr()]
                while self.peek() == ",":
                    self.take()
                    items.append(self.expr())
                self.take("\\}")
                return Collection(tuple(items))
            if tok == "|":
                inner = _arith(self.expr())
                self.take("|")
                return sp.Abs(inner)
            if tok.startswith("\\"):
                return self._command(tok[1:])
            raise ParseError(f"unexpected {tok!r}")

    def _subscripted(self, symbol, name: str):
        if self.peek() != "_":
            return symbol
        self.take()
        sub = self.script()
        return sp.Symbol(f"{name}_{sub}")

    def _bracketed(self, opener: str):
        items = [self.expr()]
        while self.peek() == ",":
            self.take()
            items.append(self.expr())
        closer = self.take()
        if closer not in (")", "]"):
            raise ParseError(f"unclosed {opener!r}")
        if len(items) == 1 and (opener, closer) in (("(", ")"), ("[", "]")):
            return items[0]  # plain grouping
        return Seq(tuple(items), opener, closer)

    def _command(self, name: str):
        if name == "frac":
            numerator, denominator = _arith(self.script()), _arith(self.script())
            return _divide(numerator, denominator)
        if name == "binom":
            n, k = _arith(self.script()), _arith(self.script())
            if n.is_Integer and k.is_Integer and min(k, n - k) > MAX_EXPONENT:
                raise Refused("binomial too large")
            return sp.binomial(n, k)
        if name == "sqrt":
            index = 2
            if self.peek() == "[":
                self.take()
                index = _arith(self.expr())
                self.take("]")
            return sp.root(_arith(self.script()), index)
        if name == "pi":
            return sp.pi
        if name == "infty":
            return sp.oo
        if name in GREEK:
            return self._subscripted(sp.Symbol(name), name)
        if name in ("lfloor", "lceil"):
            inner = _arith(self.expr())
            self.take("\\rfloor" if name == "lfloor" else "\\rceil")
            return sp.floor(inner) if name == "lfloor" else sp.ceiling(inner)
        if name == "log":
            base = None
            if self.peek() == "_":
                self.take()
                base = _arith(self.script())
            argument = _arith(self.power())
            return sp.log(argument, base) if base is not None else sp.log(argument)
        if name in FUNCTIONS:
            exponent = None
            if self.peek() == "^":  # \sin^2 x
                self.take()
                exponent = _arith(self.script())
            value = FUNCTIONS[name](_arith(self.power()))
            return _pow(value, exponent) if exponent is not None else value
        if name == "begin":
            return self._matrix()
        raise ParseError(f"unsupported command \\{name}")

    def _matrix(self):
        self.take("{")
        env = ""
        while self.peek() != "}":
            env += self.take()
        self.take("}")
        if env not in MATRICES:
            raise ParseError(f"unsupported environment {env}")
        if env == "array" and self.peek() == "{":  # column spec
            while self.take() != "}":
                pass
        rows, row = [], [self.expr()]
        while True:
            tok = self.take()
            if tok == "&":
                row.append(self.expr())
            elif tok == "\\\\":
                rows.append(tuple(row))
                if self.peek() == "\\end":
                    row = []
                    continue
                row = [self.expr()]
            elif tok == "\\end":
                if row:
                    rows.append(tuple(row))
                while self.take() != "}":
                    pass
                if len({len(r) for r in rows}) != 1:
                    raise ParseError("ragged matrix")
                return Matrix(tuple(rows))
            else:
                raise ParseError(f"unexpected {tok!r} in matrix")


def _arith(node) -> sp.Expr:
    if not isinstance(node, sp.Basic):
        raise ParseError("arithmetic on a tuple, set or equation")
    return node


def _divide(numerator: sp.Expr, denominator: sp.Expr) -> sp.Expr:
    if denominator.is_zero:  # 1/0 is no value: \\frac{1}{0} must not equal \\frac{2}{0}
        raise Refused("division by zero")
    return numerator / denominator


def _pow(base: sp.Expr, exponent: sp.Expr) -> sp.Expr:
    # 9^{9^{9^9}}: 9^9 is computed, then 9^{387420489} is refused here instead of filling memory.
    if exponent.is_Number and abs(exponent) > MAX_EXPONENT and base.is_Number and abs(base) not in (0, 1):
        raise Refused("number too large")
    return sp.Pow(base, exponent)


def parse_answer(text: str):
    """A normalised answer string -> a sympy expression or one of the answer shapes above."""
    tokens = tokenize(text)
    if not tokens:
        raise ParseError("empty answer")
    return _Parser(tokens).answer()
