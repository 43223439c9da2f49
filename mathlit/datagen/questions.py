"""New questions from an LLM's replies: parsing the fields of the create and verify calls, exact duplicates
(normalised text) and contamination (n-gram overlap with test questions). Model output is only parsed as text.
"""

import re
from collections import Counter
from dataclasses import dataclass

# A field header at the start of a line: "FINAL CREATED QUESTION:", "**Created question**:", "## VERIFICATION ...:".
FIELDS = ("FINAL CREATED QUESTION", "VERIFICATION AND MODIFICATION", "CREATED QUESTION")
_HEADER = re.compile(rf"^[\W_]*({'|'.join(FIELDS)})[\W_]*?:\**", re.IGNORECASE | re.MULTILINE)
_SOLUTION = re.compile(r"####|\\boxed")


@dataclass(frozen=True)
class Parsed:
    question: str | None  # None: rejected
    reason: str = ""  # why it was rejected
    verification: str = ""  # the VERIFICATION AND MODIFICATION field (verify replies)


def fields(reply: str) -> dict[str, str]:
    """{FIELD: its text} for every header in the reply (a repeated field: its last occurrence)."""
    found = list(_HEADER.finditer(reply))
    ends = [m.start() for m in found[1:]] + [len(reply)]
    return {m.group(1).upper(): reply[m.end() : end].strip() for m, end in zip(found, ends, strict=False)}


def _question(text: str, field: str) -> Parsed:
    if not text:
        return Parsed(None, f"empty {field}")
    if _SOLUTION.search(text):
        return Parsed(None, f"{field} contains a solution")
    return Parsed(text)


def parse_created(reply: str) -> Parsed:
    """The create call's question: its CREATED QUESTION field, or the whole reply when it has no field."""
    found = fields(reply)
    if not found:
        return _question(reply.strip(), "reply")
    if "CREATED QUESTION" not in found:
        return Parsed(None, "no CREATED QUESTION field")
    return _question(found["CREATED QUESTION"], "CREATED QUESTION")


def parse_verified(reply: str) -> Parsed:
    """The verify call's revised question: its FINAL CREATED QUESTION field, which must be there."""
    found = fields(reply)
    if "FINAL CREATED QUESTION" not in found:
        return Parsed(None, "no FINAL CREATED QUESTION field")
    parsed = _question(found["FINAL CREATED QUESTION"], "FINAL CREATED QUESTION")
    return Parsed(parsed.question, parsed.reason, found.get("VERIFICATION AND MODIFICATION", ""))


def words(text: str) -> list[str]:
    """Lower-case words and numbers, punctuation and spacing dropped: `normalise` and n-grams start here."""
    return re.findall(r"[a-z0-9]+(?:\.[0-9]+)?", text.lower())


def normalise(text: str) -> str:
    return " ".join(words(text))


def ngrams(text: str, n: int) -> set[tuple[str, ...]]:
    """The text's word n-grams; a text shorter than n words is one gram."""
    w = words(text)
    return {tuple(w[i : i + n]) for i in range(max(1, len(w) - n + 1))} if w else set()


class NgramIndex:
    """Test questions indexed by word n-gram, to find the one sharing the most of a new question's n-grams."""

    def __init__(self, questions: list[str], n: int):
        self.questions, self.n = questions, n
        self.index: dict[tuple[str, ...], list[int]] = {}
        for i, q in enumerate(questions):
            for gram in ngrams(q, n):
                self.index.setdefault(gram, []).append(i)

    def closest(self, text: str) -> tuple[float, str | None]:
        """The largest share of `text`'s n-grams found in one test question, and that question."""
        grams = ngrams(text, self.n)
        hits = Counter(i for gram in grams for i in self.index.get(gram, ()))
        if not hits:
            return 0.0, None
        best, count = max(hits.items(), key=lambda item: (item[1], -item[0]))
        return count / len(grams), self.questions[best]
