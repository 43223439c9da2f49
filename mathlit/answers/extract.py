"""Find the final answer in a solution text. Pure string work: model output is never executed.

Two modes (answers.extract): `strict` reads only the forms training data uses (GSM8K: `####`, "The answer
is", the last number; MATH: `\\boxed{}`); `lenient` also reads the prose of models that do not box (answer
phrases, a display after one, a bold number, a math span ending the solution, the last number). Every answer
says where it came from (`Extraction.source`).
"""

import re
from dataclasses import dataclass
from fractions import Fraction

from mathlit.answers.numeric import parse_number

MODES = ("strict", "lenient")
MAX_ANSWER_CHARS = 2000  # a boxed answer longer than this is not an answer (and is not scanned further)

# A number as people write it: sign, currency, thousands separators, decimals ("-$1,234.50", ".5", "3").
# Not the mantissa of 1e400 (which is no number here: "1" of it would grade as 1).
_NUMBER = re.compile(
    r"(?<![\w.])[-−]?\$?\s?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?!\d|[eE][-+]?\d)|(?<![\w.\d])[-−]?\.\d+(?![eE][-+]?\d)"
)
# After ####: digits with any separators, spaces only between digits ("1 000"); validated by _GROUPED.
_HASH_NUMBER = re.compile(r"[-−]?\s?\$?\s?\d(?:[\d,.]|\s(?=\d))*")
_GROUPED = re.compile(r"-?(?:\d+|[1-9]\d{0,2}(?:,\d{3})+|[1-9]\d{0,2}(?: \d{3})+)(?:\.\d+)?")
_HASHES = re.compile(r"####([^\n]*)")
_THE_ANSWER_IS = re.compile(r"answer is[:\s]*([^\n]{0,200})", re.IGNORECASE)
# "The answer is 42.", "Final answer: $x=3$", "**Answer:** 7": the rest of that line.
_PHRASE = re.compile(r"(?:final answer|answer)\s*(?:is|:|=)\**\s*(?:is\b|:)?\**\s*([^\n]{1,300})", re.IGNORECASE)
# "Answer:\n\\[\n9\n\\]", "Final Answer \\( 9 \\)": a display or inline span right after an answer phrase, on any line.
_DISPLAY = re.compile(
    r"(?:final answer|answer)\**\s*(?:is\b|:|=)?\**\s*:?\**\s*(?:\\\[|\$\$|\\\()(.{1,300}?)(?:\\\]|\$\$|\\\))",
    re.IGNORECASE | re.DOTALL,
)
# "Thus $x \in [-2, 7]$.": a math span that ends the solution (only punctuation after it).
_LAST_SPAN = re.compile(r"(?:\$\$?([^$]{1,300}?)\$\$?|\\\((.{1,300}?)\\\)|\\\[(.{1,300}?)\\\])[\s.!,;:*]*$", re.DOTALL)
_MATH_SPAN = re.compile(r"\$\$?([^$]{1,300}?)\$\$?|\\\(([^\n]{1,300}?)\\\)|\\\[([^\n]{1,300}?)\\\]")
_BOLD = re.compile(r"\*\*([^*\n]{1,100})\*\*")
_BOX = re.compile(r"\\boxed|\\fbox")
# Between two boxes of one multi-answer ("$\boxed{2}$ and $x = \boxed{3}$"): punctuation, "and", a label only
# ("or" joins two forms of one answer: the last one stands).
_JOIN = re.compile(r"[\s$,;.]*(?:(?:and|\\text\{\s*and\s*\}|\\quad)[\s$,;.]*)?(?:[a-zA-Z]\s*=\s*)?")


@dataclass(frozen=True)
class Extraction:
    answer: str | None
    source: str  # boxed | hashes | answer_is | phrase | bold | last_span | last_number | none | ambiguous


def normalize_number(text: str) -> str:
    """'-$1,234.50' -> '-1234.50': drop currency, separators and spaces; unicode minus to '-'."""
    return text.replace("−", "-").replace("$", "").replace(",", "").replace(" ", "")


def gsm8k_number(text: str) -> Fraction | None:
    """A GSM8K answer's value: '1,234', '1 000', '$5', '3/4'. A separator that is not a thousands
    grouping ('0,111', '1,5': a decimal comma?) is ambiguous and read as no number, never guessed."""
    s = text.strip().replace("−", "-").replace("$", "").strip().rstrip(".")
    if len(s) > 400:
        return None
    s = re.sub(r"^-\s+", "-", s)
    if ("," in s or " " in s) and not _GROUPED.fullmatch(s):
        return None
    return parse_number(s.replace(",", "").replace(" ", ""))


def last_number(text: str) -> str | None:
    found = _NUMBER.findall(text)
    return normalize_number(found[-1]) if found else None


def first_number(text: str) -> str | None:
    found = _NUMBER.search(text)
    return normalize_number(found.group()) if found else None


def _box_content(text: str, start: int) -> tuple[str, int] | None:
    """The content of the box at `start` and where it ends; None if unbalanced or too long."""
    name = "\\boxed" if text.startswith("\\boxed", start) else "\\fbox"
    pos = start + len(name)
    if text.startswith(" ", pos) and not text[pos:].lstrip().startswith("{"):  # "\boxed 5"
        m = re.compile(r"\s+(\S{1,100})").match(text, pos)
        token = m.group(1).rstrip("$.") if m else ""
        return (token, m.end()) if token else None
    if not text.startswith("{", pos):
        return None
    depth = 0
    for i in range(pos, min(len(text), pos + MAX_ANSWER_CHARS)):
        if text[i] == "{":
            depth += 1
        elif text[i] == "}":
            depth -= 1
            if depth == 0:
                return text[pos + 1 : i].strip(), i + 1
    return None


def last_boxed(text: str) -> str | None:
    """Content of the last \\boxed{...} or \\fbox{...} (braces nest); also \\boxed 5. None if absent or unbalanced."""
    start = max(text.rfind("\\boxed"), text.rfind("\\fbox"))
    found = _box_content(text, start) if start >= 0 else None
    return found[0] if found else None


def boxed(text: str) -> str | None:
    """The last box, joined with the boxes right before it when only punctuation or 'and' separates them
    (a multi-answer problem: '$\\boxed{2}$ and $\\boxed{3}$' -> '2, 3'). A box earlier in the prose (an
    intermediate result, another method's answer) does not count."""
    starts = [m.start() for m in _BOX.finditer(text)][-20:]
    if not starts:
        return None
    last = _box_content(text, starts[-1])
    if last is None:
        return None
    answers, begin = [last[0]], starts[-1]
    for start in reversed(starts[:-1]):
        found = _box_content(text, start)
        if found is None or not _JOIN.fullmatch(text, found[1], begin):
            break
        answers.insert(0, found[0])
        begin = start
    distinct = list(dict.fromkeys(a for a in answers if a))
    return ", ".join(distinct) if distinct else answers[-1]


def _hashes(text: str) -> Extraction | None:
    matches = _HASHES.findall(text)
    if not matches:
        return None
    m = _HASH_NUMBER.search(matches[-1])
    if m is None:
        return None
    if len(m.group()) > 400 or matches[-1][m.end() : m.end() + 1].isalpha():  # 1e400, 12a, 400 digits
        return Extraction(None, "ambiguous")
    value = re.sub(r"^(-?)\s*", r"\1", m.group().replace("−", "-").replace("$", "").strip()).rstrip(".,")
    if not _GROUPED.fullmatch(value):
        return Extraction(None, "ambiguous")
    return Extraction(value.replace(",", "").replace(" ", ""), "hashes")


def _phrase(text: str) -> str | None:
    tail = text[-20_000:]
    matches = list(_PHRASE.finditer(tail))
    displays = list(_DISPLAY.finditer(tail))
    if displays and (not matches or displays[-1].start() >= matches[-1].start()):
        return displays[-1].group(1).strip() or None
    if not matches:
        return None
    rest = matches[-1].group(1).strip()
    span = _MATH_SPAN.search(rest)
    if span is not None:
        return next(g for g in span.groups() if g is not None).strip() or None
    rest = re.split(r"\.(?=\s|$)", rest, maxsplit=1)[0]
    return rest.strip(" *").strip() or None


def _last_span(text: str) -> str | None:
    m = _LAST_SPAN.search(text[-2_000:].rstrip())
    return next((g.strip() for g in m.groups() if g is not None), None) if m else None


def _bold(text: str) -> str | None:
    for content in reversed(_BOLD.findall(text[-20_000:])):
        inner = content.strip().rstrip(".").strip()
        if inner.startswith("$") and inner.endswith("$") and len(inner) > 2:
            return inner.strip("$").strip()
        if _NUMBER.fullmatch(inner):
            return normalize_number(inner)
    return None


def extract_answer(text: str, domain: str, mode: str = "strict") -> Extraction:
    """The final answer of a solution and where it came from.

    gsm8k: the number after the last `####` (an ambiguous one is refused), else after "The answer is", else the
    last number. math: the last \\boxed{} / \\fbox{} (with the boxes joined to it). lenient, both domains:
    boxes, then an answer phrase ("The answer is 42.", "Final answer: $x=3$", "Answer:" and a display on the next
    lines), a bold answer ("**42**"), (math) a math span ending the solution ("Thus $x \\in [-2, 7]$."), the
    last number.
    """
    if domain not in ("gsm8k", "math"):
        raise ValueError(f"unknown answer domain {domain!r} (expected 'gsm8k' or 'math')")
    if mode not in MODES:
        raise ValueError(f"unknown extraction mode {mode!r} (answers.extract: expected one of {', '.join(MODES)})")
    if not isinstance(text, str):
        return Extraction(None, "none")
    steps = _STEPS[(domain, mode)]
    for source, step in steps:
        found = step(text)
        if isinstance(found, Extraction):
            return found
        if found:
            return Extraction(found, source)
    return Extraction(None, "none")


def _gsm8k_answer_is(text: str) -> str | None:
    matches = _THE_ANSWER_IS.findall(text)
    return first_number(matches[-1]) if matches else None


def _numeric(step):
    """A GSM8K step keeps only the number in what it found (a bold '$5' -> '5')."""

    def read(text: str) -> str | None:
        found = step(text)
        return first_number(found) if found else None

    return read


_STEPS = {
    ("gsm8k", "strict"): [("hashes", _hashes), ("answer_is", _gsm8k_answer_is), ("last_number", last_number)],
    ("gsm8k", "lenient"): [
        ("hashes", _hashes),
        ("boxed", _numeric(boxed)),
        ("phrase", _numeric(_phrase)),
        ("bold", _numeric(_bold)),
        ("last_number", last_number),
    ],
    ("math", "strict"): [("boxed", boxed)],
    ("math", "lenient"): [
        ("boxed", boxed),
        ("phrase", _phrase),
        ("bold", _bold),
        ("last_span", _last_span),
        ("last_number", last_number),
    ],
}


def extract(text: str, domain: str, mode: str = "strict") -> str | None:
    """The final answer of a solution, or None (see extract_answer)."""
    return extract_answer(text, domain, mode).answer
