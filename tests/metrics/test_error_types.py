import pytest

from mathlit.metrics.error_types import calculation_slip, count_error_types, error_type


def sample(completion: str, answer: str | None, correct: bool = False, finish: str = "stop") -> dict:
    return {"completion": completion, "answer": answer, "correct": correct, "finish_reason": finish}


@pytest.mark.parametrize(
    ("record", "kind"),
    [
        (sample("3+4=<<3+4=7>>7\n#### 7", "7", correct=True), None),
        (sample("3+4=<<3+4=7>>7 and 7+7=<<7+7=14>>14 and", None, finish="length"), "truncated"),
        (sample("3+4=<<3+4=7>>7 so there", None), "format"),
        (sample("53-37=<<53-37=17>>17\n#### 17", "17"), "calculation"),
        (sample("53-37=<<53-37=16>>17\n#### 17", "17"), "calculation"),  # a copy slip after a right annotation
        (sample("He has 12*3 = 37 apples.\n#### 37", "37"), "calculation"),  # an inline equation
        (sample("3+4=<<3+4=7>>7\n#### 7", "7"), "reasoning"),  # every calculation holds, the answer is wrong
    ],
)
def test_each_wrong_sample_gets_one_type(record, kind):
    assert error_type(record) == kind


def test_inline_text_that_is_no_calculation_is_no_slip():
    assert not calculation_slip("In 2024 = the year, we had 3 apples")
    assert calculation_slip("so 2 + 2 = 5")


def test_counts_and_shares_of_the_wrong_samples():
    records = [
        sample("1+1=<<1+1=2>>2", "2", correct=True),
        sample("1+1=<<1+1=3>>3", "3"),
        sample("1+1=<<1+1=2>>2", "2"),
        sample("1+1=<<1+1=2>>2", "2"),
        sample("...", None),
    ]
    counts = count_error_types(records)
    assert counts["samples"] == 5 and counts["wrong"] == 4
    assert counts["counts"] == {"truncated": 0, "format": 1, "calculation": 1, "reasoning": 2}
    assert counts["shares"]["reasoning"] == 0.5
