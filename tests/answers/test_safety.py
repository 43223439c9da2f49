"""Model output is untrusted: no text makes extraction, equivalence or grading raise, hang or blow memory."""

import random
import time

import pytest

from mathlit.answers import is_equiv
from mathlit.answers.grading import Grading, grade_answer

# through the fallback (answers.fallback=math_verify): math-verify sees whatever mathlit's fast path leaves to it
STRICT, LENIENT = Grading("strict", 1e-6, "math_verify"), Grading("lenient", 1e-6, "math_verify")
MEGABYTE = 2**20
DEGENERATE = [
    "1e400",
    "-1e999",
    "2" * 5000,
    "9" * 309,
    "0." + "3" * 5000,
    "10^{10^{10^{10}}}",
    "2^{2^{2^{2^{2^{2}}}}}",
    "(10^{100})!",
    "1000000!",
    "\\binom{10^{100}}{10^{50}}",
    "{" * 5000,
    "}" * 5000,
    "\\frac{" * 2000,
    "(" * 3000 + "1" + ")" * 3000,
    "\\sqrt{" * 1000 + "2" + "}" * 1000,
    "\\boxed{" * 5000,
    "\\boxed{" + "1" * MEGABYTE,
    "#### " + "1," * MEGABYTE,
    "#### " + "1 " * (MEGABYTE // 2),
    "The answer is " + "x" * MEGABYTE,
    "**" * MEGABYTE,
    "$" * MEGABYTE,
    "1" * MEGABYTE,
    " " * MEGABYTE + "5 cm",
    "5" + " " * MEGABYTE + "cm",
    "\\text{" * 10000,
    "x \\le " * 5000,
    "1<" * 2000 + "x",
    "\\frac{1}{0}",
    "0^{-1}",
    "\x00\ud800",
]


def check_everything(text: str) -> None:
    for domain in ("math", "gsm8k"):
        for grading in (STRICT, LENIENT):
            graded = grade_answer(text, "1", domain, grading)
            assert "answer_error" not in graded and graded["answer"] is None or isinstance(graded["answer"], str)
        assert is_equiv(text, "1", domain, fallback="math_verify") in (True, False)
        assert is_equiv("1", text, domain, fallback="math_verify") in (True, False)
        assert is_equiv(text, text[:-1] or "2", domain, fallback="math_verify") in (True, False)


@pytest.mark.parametrize("text", DEGENERATE, ids=range(len(DEGENERATE)))
def test_degenerate_output_is_graded_quickly_without_raising(text):
    started = time.perf_counter()
    check_everything(text)
    assert time.perf_counter() - started < 10  # symbolic checks at most, each capped at 2 s by the worker


def test_huge_numbers_compare_exactly_without_floats():
    assert is_equiv("1e400", "1e400", "math", fallback="math_verify") and not is_equiv(
        "1e400", "1", "math", fallback="math_verify"
    )
    assert not is_equiv("1e400", "1e401", "math", fallback="math_verify") and is_equiv(
        "1e300", "1" + "0" * 300, "math", fallback="math_verify"
    )
    assert not is_equiv("2" * 5000, "1", "math", fallback="math_verify") and is_equiv(
        "2" * 5000, "2" * 5000, "gsm8k", fallback="math_verify"
    )
    assert not is_equiv("9" * 309, "1", "gsm8k", fallback="math_verify") and is_equiv(
        "9" * 309, "9" * 309, "gsm8k", fallback="math_verify"
    )


def test_a_division_by_zero_equals_nothing():
    assert not is_equiv("\\frac{1}{0}", "\\frac{2}{0}", "math", fallback="math_verify")
    assert not is_equiv("\\frac{x}{0}", "\\frac{y}{0}", "math", fallback="math_verify")
    assert not is_equiv("0^{-1}", "\\infty", "math", fallback="math_verify")


TOKENS = (
    list("0123456789+-*/^_=(){}[],;.!|<>$%&~ xyzabAB")
    + ["\\frac", "\\sqrt", "\\boxed", "\\text", "\\left(", "\\right)", "\\pi", "\\infty", "\\cup", "\\le", "\\geq"]
    + ["\\begin{pmatrix}", "\\end{pmatrix}", "\\\\", "\\pm", "\\cdot", "\\{", "\\}", "####", "e", "1e", "{,}", "\\!"]
    + ["The answer is", "**", "Final answer:", "\\textbf{(B)}", "\\cfrac", "\\in", "\\dfrac", "\\log_", "!"]
)


def random_text(rng: random.Random) -> str:
    return "".join(rng.choice(TOKENS) for _ in range(rng.randint(1, 40)))


def test_fuzz_random_latex_and_numbers_never_raise():
    """A seeded generator for a bounded time (hypothesis is not a dependency): every check returns a bool."""
    rng, deadline, checked = random.Random(10), time.perf_counter() + 3, 0
    while time.perf_counter() < deadline:
        text, other = random_text(rng), random_text(rng)
        for domain in ("math", "gsm8k"):
            for grading in (STRICT, LENIENT):
                graded = grade_answer(text, other, domain, grading)
                assert "answer_error" not in graded, (text, other, graded)
            assert is_equiv(text, other, domain, fallback="math_verify") in (True, False)
        checked += 1
    assert checked > 20
