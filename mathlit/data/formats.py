"""Row formats of the data files, read into one `Example` type.

A file's format is recognised from its first row's fields; every row is then checked against that
format, and a bad row is reported as `file:line: what is wrong`.
"""

from dataclasses import dataclass, field
from pathlib import Path

from mathlit.answers.extract import extract, last_boxed
from mathlit.errors import DataError
from mathlit.io import parse_jsonl


@dataclass(frozen=True)
class Example:
    id: str
    question: str
    solution: str  # the reference chain of thought: the training target
    answer: str  # the gold final answer
    domain: str  # "gsm8k" (numeric answers) or "math" (LaTeX answers)
    meta: dict = field(default_factory=dict, hash=False, compare=False)  # level, subject, source


def _need(row: dict, *keys: str) -> list:
    missing = [k for k in keys if not isinstance(row.get(k), str) or not row[k].strip()]
    if missing:
        raise DataError(f"missing or empty field {missing[0]!r}")
    return [row[k] for k in keys]


def _gsm8k(stem: str):
    def parse(row: dict, lineno: int) -> Example:
        question, solution = _need(row, "question", "answer")
        if "####" not in solution:
            raise DataError("answer has no '#### <number>' line")
        answer = extract(solution, "gsm8k")
        if answer is None:
            raise DataError("no number after '####'")
        return Example(f"{stem}/{lineno}", question, solution, answer, "gsm8k")

    return parse


def _math(stem: str):
    def parse(row: dict, lineno: int) -> Example:
        question, solution = _need(row, "problem", "solution")
        answer = row.get("answer") if isinstance(row.get("answer"), str) else last_boxed(solution)
        if not answer:
            raise DataError("solution has no \\boxed{} answer")
        level = row.get("level")
        meta = {
            "level": int(level) if isinstance(level, int) else str(level).removeprefix("Level ").strip(),
            "subject": row.get("type") or row.get("subject"),
        }
        uid = row.get("unique_id") or (f"{stem}/{row['idx']}" if "idx" in row else f"{stem}/{lineno}")
        return Example(str(uid), question, solution, answer, "math", meta)

    return parse


def _mathlit(stem: str):
    """mathlit's own example rows (what `Example` holds), e.g. RFT-augmented solutions."""

    def parse(row: dict, lineno: int) -> Example:
        question, solution, answer, domain = _need(row, "question", "solution", "answer", "domain")
        return Example(
            str(row.get("id", f"{stem}/{lineno}")), question, solution, answer, domain, row.get("meta") or {}
        )

    return parse


def _format_of(row: dict, stem: str):
    """The parser for a file, recognised from the fields of its first row."""
    if {"question", "solution", "answer"} <= row.keys():
        return _mathlit(stem)
    if {"question", "answer"} <= row.keys():
        return _gsm8k(stem)
    if {"problem", "solution"} <= row.keys():
        return _math(stem)
    raise DataError(
        f"unknown row format with fields {sorted(row)}; expected GSM8K (question, answer), "
        "MATH (problem, solution) or mathlit (question, solution, answer, domain)"
    )


def load_examples(path: str | Path, config_key: str, on_bad_row: str = "error") -> tuple[list[Example], list[str]]:
    """All examples of a jsonl file and the messages of rows skipped (with on_bad_row='skip')."""
    path = Path(path)
    chosen = []

    def parse(row: dict, lineno: int) -> Example:
        if not chosen:
            chosen.append(_format_of(row, path.stem))
        return chosen[0](row, lineno)

    return parse_jsonl(path, parse, config_key=config_key, on_bad_row=on_bad_row)


def example_to_row(example: Example) -> dict:
    """The mathlit row format: what `load_examples` reads back."""
    return {
        "id": example.id,
        "question": example.question,
        "solution": example.solution,
        "answer": example.answer,
        "domain": example.domain,
        "meta": example.meta,
    }
