"""Grade one completion against its gold answer: the step every eval, RFT and verifier job runs per sample.

Never raises: a failure on one degenerate sample is recorded on it (`answer_error`) and counted, so a
sampling run cannot die on, and then resume into, the same sample forever.
"""

from dataclasses import dataclass

from mathlit.answers.equiv import is_equiv
from mathlit.answers.extract import extract_answer


@dataclass(frozen=True)
class Grading:
    """answers.extract (strict | lenient) and answers.rel_tol of the config."""

    extract: str
    rel_tol: float

    @classmethod
    def from_config(cls, cfg) -> "Grading":
        return cls(str(cfg.answers.extract), float(cfg.answers.rel_tol))


def grade_answer(text: str, gold: str, domain: str, grading: Grading) -> dict:
    """{answer, answer_source, correct} and, when grading itself failed, answer_error (then correct is False)."""
    try:
        found = extract_answer(text, domain, grading.extract)
        correct = is_equiv(found.answer, gold, domain, grading.rel_tol)
        return {"answer": found.answer, "answer_source": found.source, "correct": correct}
    except Exception as e:  # noqa: BLE001 (any failure is this sample's, never the job's)
        return {
            "answer": None,
            "answer_source": "error",
            "correct": False,
            "answer_error": f"{type(e).__name__}: {e}"[:300],
        }
