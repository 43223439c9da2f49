"""The annotation calculator: exact, and never executes anything."""

from fractions import Fraction

import pytest

from mathlit.answers.calculator import evaluate


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("48/2", 24),
        ("3+4*2", 11),
        ("(3+4)*2", 14),
        ("-3--2", -1),
        ("1,200*3", 3600),
        (".5*4", 2),
        ("2^10", 1024),
        ("2**3", 8),
        ("50%*80", 40),
        ("10/4", Fraction(5, 2)),
        ("3x4", 12),
        ("7", 7),
    ],
)
def test_values(text, value):
    assert evaluate(text) == value


@pytest.mark.parametrize(
    "text", ["", "2/0", "__import__('os')", "2^1000", "9**9**9", "(1+2", "1+", "abc", "2 3", "1" * 300]
)
def test_not_calculations(text):
    assert evaluate(text) is None
