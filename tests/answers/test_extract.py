"""Extraction on every real gold solution and on the forms model output takes."""

import pytest

from mathlit.answers import extract, is_equiv
from mathlit.io import parse_jsonl
from tests.conftest import DATA


def rows(name):
    return parse_jsonl(DATA / name, lambda row, _: row)[0]


@pytest.mark.parametrize("split", ["train", "test"])
def test_every_gsm8k_answer_extracts_to_its_gold_and_checks_equal(split):
    for row in rows(f"gsm8k/{split}.jsonl"):
        gold = row["answer"].rsplit("####", 1)[1].strip()
        predicted = extract(row["answer"], "gsm8k")
        assert predicted == gold.replace(",", "") and is_equiv(predicted, gold, "gsm8k"), row["answer"][-40:]


def test_every_math500_solution_extracts_to_its_gold_and_checks_equal():
    failures = [
        r["unique_id"]
        for r in rows("math/test500.jsonl")
        if not is_equiv(extract(r["solution"], "math"), r["answer"], "math")
    ]
    assert failures == []


@pytest.mark.parametrize("split", ["train", "test"])
def test_every_math_solution_has_an_extractable_boxed_answer(split):
    missing = [i for i, r in enumerate(rows(f"math/{split}.jsonl"), start=1) if not extract(r["solution"], "math")]
    assert missing == ([5530, 5532] if split == "train" else [])  # these end in an empty \\boxed{}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("She has 3+4=<<3+4=7>>7 apples.\n#### 7", "7"),
        ("so the total is $1,234.50.\n#### $1,234.50", "1234.50"),
        ("The answer is **73**.", "73"),
        ("The answer is: -5", "-5"),
        ("He pays 12 dollars, then 30 dollars.", "30"),
        ("#### −4", "-4"),
        ("It costs .5 dollars", ".5"),
        ("no number here", None),
        ("", None),
    ],
)
def test_gsm8k_forms(text, expected):
    assert extract(text, "gsm8k") == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (r"so $x = \boxed{\frac{1}{2}}$.", r"\frac{1}{2}"),
        (r"\boxed{1} then \boxed{\sqrt{\frac{a}{b}}}", r"\sqrt{\frac{a}{b}}"),
        (r"\fbox{42}", "42"),
        (r"\boxed 5.", "5"),
        (r"\boxed{\frac{1}{2}", None),  # unbalanced
        ("The answer is 5", None),
    ],
)
def test_math_boxed_forms(text, expected):
    assert extract(text, "math") == expected


def test_non_text_input_is_none():
    assert extract(None, "math") is None
    with pytest.raises(ValueError, match="domain"):
        extract("1", "chess")
