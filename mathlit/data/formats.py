"""Row formats of the data files, read into one `Example` type.

Without a field mapping (`data.fields.*`), a file's format is recognised from its first row's fields;
every row is then checked against that format, and a bad row is reported as `file:line: what is wrong`.
jsonl files (plain or .jsonl.gz) are read here line by line; json, parquet, csv and hub datasets through
Hugging Face `datasets` (mathlit/data/tables.py).
"""

from pathlib import Path

from mathlit.answers.extract import extract, last_boxed
from mathlit.config import AnswerType, FieldsConfig
from mathlit.data.example import Example
from mathlit.data.mapping import mapped_parser
from mathlit.data.tables import HUB, is_table, table_rows
from mathlit.errors import DataError
from mathlit.io import parse_jsonl, parse_rows

__all__ = ["Example", "example_to_row", "load_examples"]


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
        "MATH (problem, solution) or mathlit (question, solution, answer, domain); map other fields with "
        "data.fields.question and data.fields.answer"
    )


def load_examples(
    path: str | Path,
    config_key: str,
    on_bad_row: str = "error",
    *,
    fields: FieldsConfig | None = None,
    answer_type: AnswerType = AnswerType.number,
    max_row_bytes: int | None = None,
) -> tuple[list[Example], list[str]]:
    """All examples of a data file and the messages of rows skipped (with on_bad_row='skip').

    `fields` with a question set maps another schema's rows (mathlit/data/mapping.py); else the format is
    recognised from the first row.
    """
    stem = Path(str(path).removeprefix(HUB)).name.split(".")[0]
    if fields is not None and fields.question:
        parse = mapped_parser(fields, answer_type, stem)
    else:
        chosen = []

        def parse(row: dict, lineno: int) -> Example:
            if not chosen:
                chosen.append(_format_of(row, stem))
            return chosen[0](row, lineno)

    if is_table(str(path)):
        examples, skipped = parse_rows(table_rows(str(path), config_key), parse, on_bad_row)
    else:
        examples, skipped = parse_jsonl(
            path, parse, config_key=config_key, on_bad_row=on_bad_row, max_line_bytes=max_row_bytes
        )
    return examples, skipped


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
