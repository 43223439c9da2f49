"""Canonical text of a MATH answer: formatting that never changes a value is removed.

Cheap string work, done before any parsing: most equal answers are equal here already.
"""

import re

_TEXT = re.compile(r"\\(?:text|textbf|textit|mathrm|mathbf|mbox|operatorname)\s*\{([^{}]*)\}")
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
)
_UNIT_WORDS = re.compile(r"(?<=[\d}])\s*(?:\\,|\\ |\s)*(?:" + "|".join(_UNITS) + r")(?:\^?\{?[23]\}?)?\s*$")
_BARE_PREFIX = re.compile(r"^[a-zA-Z](?:_\{?\w+\}?)?\s*=\s*(?![^=]*=)")  # "x = 5" -> "5" (one '=' only)
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


def normalize(answer: str) -> str:
    s = answer.strip()
    m = _MARKDOWN.match(s)
    if m:
        s = m.group(1) or m.group(2)
    s = s.replace("\n", " ").strip().strip("$").strip()
    for old, new in (
        ("\\dfrac", "\\frac"),
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
    s = strip_text_macros(s)
    s = _UNIT_WORDS.sub("", s)
    s = _ESCAPED_SPACE.sub(" ", s).strip().rstrip(".").strip()
    s = _BARE_PREFIX.sub("", s)
    if _THOUSANDS.fullmatch(s):  # "1,234,567"; but "1,2" and "(1,234)" are lists and points
        s = s.replace(",", "")
    s = _SPACE.sub(lambda m: (m.group(1) or "") + (" " if m.group(1) and m.group(2) else ""), s)
    s = re.sub(r"^0+(?=\d)", "", s)
    m = _MIXED.match(s)
    if m:
        sign, whole, num, den = m.groups()
        s = f"{sign}{int(whole) * int(den) + int(num)}/{den}" if int(den) else s
    return s
