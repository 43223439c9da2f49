"""Canonical text of a MATH answer: formatting that never changes a value is removed.

Cheap string work, done before any parsing: most equal answers are equal here already.
"""

import re

_TEXT = re.compile(r"\\(?:text|textbf|textit|textnormal|textrm|mathrm|mathbf|mathit|mbox|operatorname)\s*\{([^{}]*)\}")
_UNITS = (
    "cm",
    "m",
    "km",
    "mm",
    "inches",
    "inch",
    "in",
    "feet",
    "foot",
    "ft",
    "yards",
    "yard",
    "mile",
    "miles",
    "meters",
    "units",
    "unit",
    "sq",
    "square",
    "degrees",
    "degree",
    "cents",
    "cent",
    "dollars",
    "dollar",
    "hours",
    "hour",
    "minutes",
    "minute",
    "seconds",
    "second",
    "days",
    "day",
    "mph",
    "pounds",
    "students",
    "people",
    "ways",
    "points",
    "marbles",
    "apples",
    "percent",
    "liters",
    "grams",
    "kg",
    "cubic",
)
_UNIT = r"(?:" + "|".join(_UNITS) + r")(?:\^?\{?[23]\}?)?"
# "5 cm", "25 percent", "3 square units", "60 miles per hour": unit words after a value go.
_UNIT_WORDS = re.compile(r"(?<=[\d}])(?:\\,|\\ |\s)*" + _UNIT + r"(?:(?:\\ |\s)+(?:per\s+)?" + _UNIT + r"){0,3}\s*$")
# Labels before the value (one '=' only): "x = 5", "AB = 4", "f(x) = 2x", "\theta = 30", "(a,b) = (5,1)", "x \in [0,1]".
_BARE_PREFIX = re.compile(
    r"^(?:(?:[a-zA-Z]{1,3}|\\[a-zA-Z]+)(?:_\{?\w+\}?)?(?:\([a-z]\))?|\(\s*[a-zA-Z](?:\s*,\s*[a-zA-Z])+\s*\))"
    r"\s*=\s*(?![^=]*=)|^[a-zA-Z]\s*\\in\s*"
)
_CHOICE = re.compile(r"\(([A-E])\)")  # "(B)" -> "B": a multiple-choice letter
_RELATIONS = (
    (re.compile(r"\\le(?:qslant)?(?![a-zA-Z])|≤"), r"\\leq"),
    (re.compile(r"\\ge(?:qslant)?(?![a-zA-Z])|≥"), r"\\geq"),
)
_AND = re.compile(r"\s+and\s+")  # "2 and 3": a list
_THOUSANDS = re.compile(r"-?\d{1,3}(?:,\d{3})+(?:\.\d+)?")
_SPACE = re.compile(r"(\\[a-zA-Z]+)?\s+(?=([a-zA-Z])?)")  # spaces go, except the one ending "\pi r"
_MIXED = re.compile(r"^(-?)(\d+)\\frac\{?(\d+)\}?\{?(\d+)\}?$")  # 1\frac{1}{2}: a mixed number, not 1 * 1/2
_ESCAPED_SPACE = re.compile(r"(?<!\\)\\ ")  # "\ " is a space; "\\ " is a row break and a space
_MARKDOWN = re.compile(r"^\*\*(.*)\*\*$|^\*(.*)\*$")


def strip_text_macros(s: str) -> str:
    """\\text{cm} after a value is a unit and goes; \\text{13} or \\text{Evelyn} alone is unwrapped."""
    while True:
        m = _TEXT.search(s)
        if m is None:
            return s
        inner = m.group(1).strip()
        before, after = s[: m.start()].strip(), s[m.end() :].strip()
        unit = before and not after and (inner.lower().split()[0] if inner.split() else "") in _UNITS
        s = (before if unit else s[: m.start()] + inner + s[m.end() :]).strip()


def normalize(answer: str, strip_label: bool = True) -> str:
    """strip_label=False keeps "y = 2x+1" an equation (compared with "3y-6x=3"); else "x = 5" is "5"."""
    s = answer.strip()
    m = _MARKDOWN.match(s)
    if m:
        s = m.group(1) or m.group(2)
    s = s.replace("\n", " ").strip().strip("$").strip()
    for old, new in (
        ("\\dfrac", "\\frac"),
        ("\\cfrac", "\\frac"),
        ("{,}", ","),
        ("\\mathbb{R}", "(-\\infty,\\infty)"),
        ("\\tfrac", "\\frac"),
        ("\\left", ""),
        ("\\right", ""),
        ("\\displaystyle", ""),
        ("\\!", ""),
        ("\\,", ""),
        ("\\;", ""),
        ("\\:", ""),
        ("~", " "),
        ("^{\\circ}", ""),
        ("^\\circ", ""),
        ("\\circ", ""),
        ("\\%", ""),
        ("%", ""),
        ("\\$", ""),
        ("$", ""),
        ("−", "-"),
        ("\\dots", "\\ldots"),
    ):
        s = s.replace(old, new)
    for pattern, replacement in _RELATIONS:
        s = pattern.sub(replacement, s)
    s = strip_text_macros(s)
    s = _UNIT_WORDS.sub("", s)
    s = _ESCAPED_SPACE.sub(" ", s).strip().rstrip(".").strip()
    s = _AND.sub(",", s)
    if strip_label:
        s = _BARE_PREFIX.sub("", s)
    if _THOUSANDS.fullmatch(s):  # "1,234,567"; but "1,2" and "(1,234)" are lists and points
        s = s.replace(",", "")
    s = _SPACE.sub(lambda m: (m.group(1) or "") + (" " if m.group(1) and m.group(2) else ""), s)
    s = re.sub(r"^0+(?=\d)", "", s)
    s = _CHOICE.sub(r"\1", s) if _CHOICE.fullmatch(s) else s
    m = _MIXED.match(s)
    if m:
        sign, whole, num, den = m.groups()
        s = f"{sign}{int(whole) * int(den) + int(num)}/{den}" if int(den) else s
    return s
