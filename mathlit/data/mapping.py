"""Rows of any schema -> `Example`, by the field mapping in `data.fields` and the reading of `data.answer_type`.

    data.fields.question="{Body} {Question}" data.fields.answer=Answer data.answer_type=number   # SVAMP

Answers are cleaned to what the grader compares: `9 (apples)` -> 9, `145.0` -> 145, `$\\frac12$` -> \\frac12,
`(b)` -> B. A row whose answer cannot be read raises DataError (the caller adds file:line).
"""

import re
import string
from collections.abc import Callable
from decimal import Decimal, InvalidOperation

from mathlit.answers.extract import first_number, last_boxed
from mathlit.config import AnswerType, FieldsConfig
from mathlit.data.example import Example
from mathlit.errors import ConfigError, DataError

DOMAIN = {AnswerType.number: "gsm8k", AnswerType.latex: "math", AnswerType.choice: "math"}
_CHOICE = re.compile(r"^\(?([A-Za-z])[).:]?$")


def _number(text: str) -> str:
    found = first_number(text)
    if found is None:
        raise DataError(f"answer {text[:40]!r} has no number")
    try:
        value = Decimal(found)
    except InvalidOperation:
        raise DataError(f"answer {text[:40]!r} has no number") from None
    return str(int(value)) if value == value.to_integral_value() else str(value.normalize())


def _latex(text: str) -> str:
    text = text.strip()
    answer = last_boxed(text) if "\\boxed" in text or "\\fbox" in text else text.strip("$ ").strip()
    if not answer:
        raise DataError(f"answer {text[:40]!r} has no expression")
    return answer


def _choice(text: str) -> str:
    found = _CHOICE.match(text.strip())
    if not found:
        raise DataError(f"answer {text[:40]!r} is not a choice letter")
    return found.group(1).upper()


CLEAN: dict[AnswerType, Callable[[str], str]] = {
    AnswerType.number: _number,
    AnswerType.latex: _latex,
    AnswerType.choice: _choice,
}


def _text(row: dict, key: str) -> str:
    """A field as text; a one-element list (MAWPS' lSolutions) stands for its element."""
    if key not in row:
        raise DataError(f"missing field {key!r}")
    value = row[key]
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    if value is None or isinstance(value, dict | list) or not str(value).strip():
        raise DataError(f"field {key!r} is empty or not a single value")
    return str(value)


def _question_reader(template: str) -> Callable[[dict], str]:
    """A field name, or a template whose {fields} are filled from the row."""
    if "{" not in template:
        return lambda row: _text(row, template)
    names = [name for _, name, _, _ in string.Formatter().parse(template) if name is not None]
    if not names or any(not name.isidentifier() for name in names):
        raise ConfigError(f"data.fields.question={template!r}: a template names fields as {{field}}")
    return lambda row: template.format_map({name: _text(row, name).strip() for name in names})


def mapped_parser(fields: FieldsConfig, answer_type: AnswerType, stem: str) -> Callable[[dict, int], Example]:
    """The parser of rows whose fields `data.fields` names."""
    if not fields.answer:
        raise ConfigError("data.fields.question is set but data.fields.answer is not")
    question_of, clean, domain = _question_reader(fields.question), CLEAN[answer_type], DOMAIN[answer_type]

    def parse(row: dict, lineno: int) -> Example:
        question, answer = question_of(row), clean(_text(row, fields.answer))
        # Without a reference solution the target is the answer line alone, in the form the grader reads.
        solution = _text(row, fields.solution) if fields.solution else answer_line(answer, domain)
        uid = _text(row, fields.id) if fields.id else f"{stem}/{lineno}"
        return Example(uid, question, solution, answer, domain)

    return parse


def answer_line(answer: str, domain: str) -> str:
    return f"#### {answer}" if domain == "gsm8k" else f"The answer is $\\boxed{{{answer}}}$."
