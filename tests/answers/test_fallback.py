"""math-verify as the fallback behind mathlit's fast path: the answer forms it was added for, the false positives
decided before it is asked, and its failures bounded, recorded and graded unequal."""

import time

import pytest

from mathlit.answers import fallback, is_equiv
from mathlit.answers.equiv import FALLBACK, FAST_PATH, judge
from mathlit.answers.grading import Grading, grade_answer
from mathlit.answers.symbolic import SymbolicChecker, checker

STRICT, LENIENT = Grading("strict", 1e-6), Grading("lenient", 1e-6)
OFF = Grading("strict", 1e-6, fallback="none")

# (category, completion, gold, extraction, expected verdict, the path that decides it)
CASES = [
    ("relation", r"The range is $\boxed{y >= -3}$.", r"y \geq -3", STRICT, True, FALLBACK),
    ("relation", r"so $\boxed{n != 0}$", r"n \neq 0", STRICT, True, FALLBACK),
    ("relation", r"\boxed{a<=4}", r"a \leq 4", STRICT, True, FALLBACK),
    ("relation", r"The range is $\boxed{y >= 3}$.", r"y \geq -3", STRICT, False, FALLBACK),
    ("relation", r"so $\boxed{n != 1}$", r"n \neq 0", STRICT, False, FALLBACK),
    ("relation", r"\boxed{a<=4}", "a < 4", STRICT, False, FALLBACK),
    ("relation", r"\boxed{x >= -3}", r"y \geq -3", STRICT, False, FALLBACK),
    ("answer span", "We add them up.\n\nAnswer: \\[ 12 \\]", "12", LENIENT, True, FAST_PATH),
    ("answer span", "**Answer:** \\( \\frac{2}{5} \\)", "0.4", LENIENT, True, FAST_PATH),
    ("answer span", "Final answer:\n\\[\n-7\n\\]\nDone.", "-7", LENIENT, True, FAST_PATH),
    ("answer span", "Answer:\n\\[\nq >= 2\n\\]", r"q \ge 2", LENIENT, True, FALLBACK),
    ("answer span", "Answer: \\[ 13 \\]", "12", LENIENT, False, FAST_PATH),
    ("answer span", r"\boxed{\[ 12 \]}", "12", STRICT, True, FALLBACK),  # a span inside the box
    ("answer span", r"\boxed{\( x \ne 2 \)}", r"x \neq 2", STRICT, True, FALLBACK),
    ("answer span", r"\boxed{\[ 13 \]}", "12", STRICT, False, FALLBACK),
    ("answer span", "Final answer:\n\\[\n7\n\\]", "-7", LENIENT, False, FAST_PATH),
    (
        "matrix",
        r"\boxed{\begin{bmatrix} 2 & -1 \\ 0 & 3 \end{bmatrix}}",
        r"\begin{pmatrix}2&-1\\0&3\end{pmatrix}",
        STRICT,
        True,
        FAST_PATH,
    ),
    (
        "matrix",
        r"$\boxed{\left[\begin{array}{cc} 2 & -1 \\ 0 & 3 \end{array}\right]}$",
        r"\begin{pmatrix}2&-1\\0&3\end{pmatrix}",
        STRICT,
        True,
        FAST_PATH,
    ),
    (
        "matrix",
        r"\boxed{\begin{matrix}2&-1\\0&3\end{matrix}}",
        r"\begin{pmatrix}2&-1\\0&3\end{pmatrix}",
        STRICT,
        True,
        FAST_PATH,
    ),
    (
        "matrix",
        r"\boxed{\begin{bmatrix} 2 & 1 \\ 0 & 3 \end{bmatrix}}",
        r"\begin{pmatrix}2&-1\\0&3\end{pmatrix}",
        STRICT,
        False,
        FAST_PATH,
    ),
    (
        "matrix",
        r"\boxed{\begin{bmatrix} 2 \\ -1 \end{bmatrix}}",
        r"\begin{pmatrix}2&-1\end{pmatrix}",
        STRICT,
        False,
        FAST_PATH,
    ),
    ("set vs tuple", r"\boxed{(3, 5)}", r"\{3,5\}", STRICT, True, FALLBACK),
    ("set vs tuple", r"\boxed{\{-1, 4\}}", "(-1, 4)", STRICT, True, FALLBACK),
    ("set vs tuple", r"\boxed{(3, 6)}", r"\{3,5\}", STRICT, False, FALLBACK),
    ("set vs tuple", r"\boxed{(5, 3)}", "(3, 5)", STRICT, False, FAST_PATH),
    ("interval", r"\boxed{x \in [-3, 8]}", r"-3 \le x \le 8", STRICT, True, FAST_PATH),
    ("interval", r"\boxed{-3 \leq x \leq 8}", "[-3,8]", STRICT, True, FAST_PATH),
    ("interval", r"\boxed{x \in (0, 5]}", r"0 < x \le 5", STRICT, True, FAST_PATH),
    ("interval", r"\boxed{x\in[-3,8)}", r"-3\le x\le 8", STRICT, False, FALLBACK),
    ("several boxes", r"So $a = \boxed{4}$ and $b = \boxed{-2}$.", "(4,-2)", STRICT, True, FALLBACK),
    ("several boxes", r"$\boxed{x=4}$, $\boxed{y=-2}$", "(4,-2)", STRICT, True, FALLBACK),
    ("several boxes", r"So $a = \boxed{-2}$ and $b = \boxed{4}$.", "(4,-2)", STRICT, False, FALLBACK),
    ("several boxes", r"$\boxed{x=4}$, $\boxed{y=2}$", "(4,-2)", STRICT, False, FALLBACK),
    ("units", r"She pays $\boxed{12 \text{ euros}}$.", "12", STRICT, True, FALLBACK),
    ("units", r"\boxed{7\text{ tickets}}", "7", STRICT, True, FALLBACK),
    ("units", r"\boxed{\frac34 \text{ of the tank}}", "0.75", STRICT, True, FALLBACK),
    ("units", r"She pays $\boxed{13 \text{ euros}}$.", "12", STRICT, False, FALLBACK),
    ("units", r"\boxed{7\text{ tickets}}", "8", STRICT, False, FALLBACK),
    ("prose", "Adding the two costs, the answer is 12 euros.", "12", LENIENT, True, FALLBACK),
    ("prose", "Therefore the final answer is $\\frac{3}{4}$.", "0.75", LENIENT, True, FAST_PATH),
    ("prose", "Both ends are included, so $x \\in [-2, 7]$.", r"-2 \le x \le 7", LENIENT, True, FAST_PATH),
    ("prose", "Counting the cases gives 35 ways in all.", "35", LENIENT, True, FAST_PATH),
    ("prose", "The solution set is $\\{1, 2\\}$.", "1, 2", LENIENT, True, FAST_PATH),
    ("prose", "Adding the two costs, the answer is 13 euros.", "12", LENIENT, False, FALLBACK),
    ("prose", "Both ends are included, so $x \\in [-2, 6]$.", r"-2 \le x \le 7", LENIENT, False, FALLBACK),
    ("prose", "Counting the cases gives 34 ways in all.", "35", LENIENT, False, FAST_PATH),
]


@pytest.mark.parametrize(("kind", "text", "gold", "grading", "expected", "path"), CASES, ids=[c[0] for c in CASES])
def test_each_form_is_graded_and_says_which_path_decided(kind, text, gold, grading, expected, path):
    graded = grade_answer(text, gold, "math", grading)
    assert (graded["correct"], graded["decided_by"]) == (expected, path), graded
    assert "check_failure" not in graded


@pytest.mark.parametrize(
    ("pred", "gold", "expected"),
    [
        ("7.389056", "e^2", True),  # e: Euler's number to math-verify, a variable to mathlit
        ("3", r"\ln e^3", True),
        ("5", r"\{5\}", True),  # a set of one answer
        ("7.389056", "x^2", False),  # a number never equals an expression in variables: never asked
        ("5", r"\{5, 6\}", False),
    ],
)
def test_what_mathlit_reads_as_a_variable_or_a_set_of_one_is_left_to_the_fallback(pred, gold, expected):
    verdict = judge(pred, gold, "math")
    assert (verdict.equal, verdict.decided_by) == (expected, FALLBACK if expected else FAST_PATH)


def test_without_the_fallback_mathlit_alone_misses_the_forms_math_verify_reads():
    rescued = [c for c in CASES if c[5] == FALLBACK and c[4]]
    off = [
        grade_answer(text, gold, "math", Grading(g.extract, g.rel_tol, "none")) for _, text, gold, g, _, _ in rescued
    ]
    assert len(rescued) >= 10 and not any(r["correct"] for r in off)
    assert {r["decided_by"] for r in off} == {FAST_PATH}


# math-verify alone calls these equal; each is decided before it is asked
GUARDED = [
    ("5;5", "5"),  # two answers are not one (math-verify reads a set)
    ("3, 3", "3"),
    ("0,111", "0.111"),  # a list, or an ambiguous decimal comma: never a guess
    ("1,2,2", "1,2"),  # lists of numbers are counted, not read as sets
    (r"\{4, 4, 5\}", r"\{4,5\}"),
    ("0.000333", r"\frac{1}{3000}"),  # math-verify rounds to 6 decimals; answers.rel_tol is relative
    ("52_9", "52_8"),  # numbers in a base: math-verify reads the digits alone
    ("1011_{2}", "1011"),
]

# Words after a value go to math-verify as its unit (\text{ euros}, which it drops); words that qualify or deny
# the value are another answer, never sent as a unit
QUALIFIED = [
    ("5", "or more"),
    ("5", "at most"),
    ("5", "is not the answer"),
    ("x^2", "or less"),
    (r"\sqrt{2}", "or higher"),
]


@pytest.mark.parametrize(("value", "words"), QUALIFIED)
def test_words_that_qualify_a_value_are_not_its_unit(value, words):
    assert fallback.answers_equal(rf"{value} \text{{ {words}}}", value)  # as a unit, math-verify drops them
    verdict = judge(f"{value} {words}", value, "math")
    assert (verdict.equal, verdict.decided_by) == (False, FAST_PATH)
    assert judge("12 euros", "12", "math").equal  # a unit in words still reaches the fallback


@pytest.mark.parametrize(("pred", "gold"), GUARDED)
def test_the_fallbacks_false_positives_are_decided_before_it_is_asked(pred, gold):
    assert fallback.answers_equal(pred, gold)  # the class exists: math-verify alone says equal
    assert judge(pred, gold, "math") == judge(pred, gold, "math", fallback="none")
    verdict = judge(pred, gold, "math")
    assert (verdict.equal, verdict.decided_by) == (False, FAST_PATH)


def test_math_verify_never_extracts_so_its_reading_of_1e400_as_1_cannot_grade():
    assert fallback.solution_equal("#### 1e400", "1")  # math-verify alone, on the whole solution
    for domain in ("gsm8k", "math"):
        for grading in (STRICT, LENIENT):
            graded = grade_answer("#### 1e400", "1", domain, grading)
            assert graded["correct"] is False and graded["decided_by"] == FAST_PATH
    assert judge("1e400", "1", "math") == judge("1e400", "1", "math", fallback="none")


def test_gsm8k_answers_are_numbers_and_never_reach_the_fallback():
    verdict = judge("0,111", "0.111", "gsm8k")
    assert (verdict.equal, verdict.decided_by) == (False, FAST_PATH)
    assert grade_answer("#### 1e400", "1", "gsm8k", STRICT)["decided_by"] == FAST_PATH


# mathlit parses neither side (">="), so the pair reaches math-verify, which evaluates 9^{9^{9^9}}
HANGS = (r"x >= 9^{9^{9^{9}}}", r"x \geq 5")


def test_an_answer_that_makes_math_verify_hang_is_bounded_recorded_and_unequal():
    started = time.perf_counter()
    verdict = judge(*HANGS, "math")
    assert time.perf_counter() - started < checker().timeout_s + 3  # the time limit and a restart
    assert verdict == judge(*HANGS, "math")  # (cached: the same verdict, not a second wait)
    assert (verdict.equal, verdict.decided_by, verdict.failure) == (False, FALLBACK, "math_verify: timeout")
    graded = grade_answer(rf"\boxed{{{HANGS[0]}}}", HANGS[1] + " ", "math", STRICT)
    assert graded["correct"] is False and graded["check_failure"] == "math_verify: timeout"
    assert is_equiv(
        "x >= 5", r"x \geq 5", "math", fallback="math_verify"
    )  # the worker is replaced and answers the next check


def test_a_worker_that_dies_during_the_fallback_is_a_recorded_crash_and_unequal():
    import threading

    dying = SymbolicChecker(timeout_s=30)
    dying.ask("mathlit", "1", "1")  # started
    threading.Timer(0.5, dying._proc.kill).start()  # dies inside math-verify's endless work on HANGS
    assert dying.ask("math_verify", *HANGS) == ("0", "crash")
    assert dying.stats["crashes"] == 1 and dying.ask("math_verify", "x >= 5", r"x \geq 5") == ("1", None)
    dying.close()


DEGENERATE = ["1e400", "2" * 5000, "(10^{100})!", "1000000!", "{" * 5000, "(" * 300 + "x>=1" + ")" * 300]


@pytest.mark.parametrize("text", DEGENERATE, ids=range(len(DEGENERATE)))
def test_degenerate_answers_through_the_fallback_are_quick_unequal_and_never_raise(text):
    started = time.perf_counter()
    for pred, gold in ((text, "1"), ("1", text), (text, r"x \geq 1"), (rf"\boxed{{{text}}}", "1")):
        verdict = judge(pred, gold, "math")
        assert verdict.equal is False
        graded = grade_answer(rf"\boxed{{{pred}}}", gold, "math", STRICT)
        assert graded["correct"] is False and "answer_error" not in graded
    assert time.perf_counter() - started < 10


def test_a_megabyte_line_is_compared_as_text_and_never_reaches_the_fallback():
    line = "x >= " + "1" * 2**20
    verdict = judge(line, r"x \geq 1", "math")
    assert (verdict.equal, verdict.decided_by) == (False, FAST_PATH)
    assert grade_answer("Answer: " + line, "1", "math", LENIENT)["correct"] is False


def test_the_fallback_runs_off_the_main_thread():
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(3) as pool:
        verdicts = list(pool.map(lambda i: judge(f"x >= {i}", rf"x \geq {i}", "math"), range(6)))
    assert all(v.equal and v.decided_by == FALLBACK for v in verdicts)


def test_an_unknown_fallback_names_the_key():
    with pytest.raises(ValueError, match="answers.fallback"):
        judge("1", "2", "math", fallback="sympy")
