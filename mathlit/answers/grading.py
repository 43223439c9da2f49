"""Grade one completion against its gold answer: the step every eval, RFT and verifier job runs per sample.

Rewards and evaluation grade through this one function with one config (answers.*). Never raises: a failure on
one degenerate sample is recorded on it (`answer_error`) and counted, so a sampling run cannot die on, and then
resume into, the same sample forever.
"""

from dataclasses import dataclass

from mathlit.answers.equiv import judge
from mathlit.answers.extract import extract_answer
from mathlit.answers.symbolic import checker


@dataclass(frozen=True)
class Grading:
    """answers.extract (strict | lenient), answers.rel_tol, answers.fallback (none | math_verify) and
    answers.crosscheck of the config."""

    extract: str
    rel_tol: float
    fallback: str = "math_verify"
    crosscheck: bool = False

    @classmethod
    def from_config(cls, cfg) -> "Grading":
        a = cfg.answers
        return cls(str(a.extract), float(a.rel_tol), str(a.fallback), bool(a.crosscheck))


def grade_answer(text: str, gold: str, domain: str, grading: Grading) -> dict:
    """{answer, answer_source, correct, decided_by}: decided_by is fast_path (mathlit) or fallback (math-verify);
    check_failure names a check the bounded worker did not finish (then correct is False). With crosscheck,
    also crosscheck: {mathlit, math_verify, agree}, the verdicts of mathlit alone and of math-verify alone (its
    own extraction from the whole completion, as TRL's accuracy reward runs it). When grading itself failed:
    answer_error, and correct is False."""
    try:
        found = extract_answer(text, domain, grading.extract)
        verdict = judge(found.answer, gold, domain, grading.rel_tol, grading.fallback)
        graded = {
            "answer": found.answer,
            "answer_source": found.source,
            "correct": verdict.equal,
            "decided_by": verdict.decided_by,
        }
        if verdict.failure:
            graded["check_failure"] = verdict.failure
        if grading.crosscheck:
            graded["crosscheck"] = crosscheck(text, found.answer, gold, domain, grading.rel_tol)
        return graded
    except Exception as e:  # noqa: BLE001 (any failure is this sample's, never the job's)
        return {
            "answer": None,
            "answer_source": "error",
            "correct": False,
            "answer_error": f"{type(e).__name__}: {e}"[:300],
        }


def crosscheck(text: str, answer: str | None, gold: str, domain: str, rel_tol: float) -> dict:
    """The verdicts of mathlit alone (answers.fallback=none) and of math-verify alone on one completion."""
    mathlit = judge(answer, gold, domain, rel_tol, "none").equal
    math_verify = isinstance(text, str) and checker().ask("math_verify_alone", text, gold)[0] == "1"
    return {"mathlit": mathlit, "math_verify": math_verify, "agree": mathlit == math_verify}
