"""Find the final answer in a solution text. Pure string work: model output is never executed."""

import re

# A number as people write it: sign, currency, thousands separators, decimals ("-$1,234.50", ".5", "3").
_NUMBER = re.compile(r"(?<![\w.])[-−]?\$?\s?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?!\d)|(?<![\w.\d])[-−]?\.\d+")
_HASHES = re.compile(r"####\s*(.*)")
_THE_ANSWER_IS = re.compile(r"answer is[:\s]*(.*)", re.IGNORECASE)


def normalize_number(text: str) -> str:
    """'-$1,234.50' -> '-1234.50': drop currency, separators and spaces; unicode minus to '-'."""
    return text.replace("−", "-").replace("$", "").replace(",", "").replace(" ", "")


def last_number(text: str) -> str | None:
    found = _NUMBER.findall(text)
    return normalize_number(found[-1]) if found else None


def first_number(text: str) -> str | None:
    found = _NUMBER.search(text)
    return normalize_number(found.group()) if found else None


def last_boxed(text: str) -> str | None:
    """Content of the last \\boxed{...} or \\fbox{...} (braces nest); also \\boxed 5. None if absent or unbalanced."""
    start = max(text.rfind("\\boxed"), text.rfind("\\fbox"))
    if start < 0:
        return None
    rest = text[start:].removeprefix("\\boxed").removeprefix("\\fbox")
    if rest.startswith(" ") and not rest.lstrip().startswith("{"):  # "\boxed 5"
        token = rest.split()[0] if rest.split() else ""
        return token.rstrip("$.") or None
    if not rest.startswith("{"):
        return None
    depth = 0
    for i, ch in enumerate(rest):
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return rest[1:i].strip()
    return None


def extract(text: str, domain: str) -> str | None:
    """The final answer of a solution, or None.

    gsm8k: the number after the last `####`, else after "The answer is", else the last number.
    math: the last \\boxed{} / \\fbox{} content.
    """
    if not isinstance(text, str):
        return None
    if domain == "gsm8k":
        for pattern in (_HASHES, _THE_ANSWER_IS):
            matches = pattern.findall(text)
            if matches:
                number = first_number(matches[-1])
                if number is not None:
                    return number
        return last_number(text)
    if domain == "math":
        return last_boxed(text)
    raise ValueError(f"unknown answer domain {domain!r} (expected 'gsm8k' or 'math')")
