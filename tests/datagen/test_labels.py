"""Majority labels of new questions (ties, no answers, the threshold) and the solutions kept for them."""

import pytest

from mathlit.datagen.labels import agreeing_paths, majority_label


def rec(answer, completion=None, domain="gsm8k"):
    return {"answer": answer, "completion": completion or f"so #### {answer}", "domain": domain}


def test_the_majority_answer_labels_when_its_share_reaches_the_threshold():
    records = [rec("7"), rec("7.0"), rec("7"), rec("8"), rec(None)]
    label = majority_label(records, 0.6)
    assert label.answer == "7" and label.share == pytest.approx(0.6)  # 7.0 is 7; no-answer counts against
    assert majority_label(records, 0.61).reason == "below_threshold"


def test_a_tie_or_no_answer_gives_no_label():
    assert majority_label([rec("1"), rec("2"), rec("2"), rec("1")], 0.0).reason == "tie"
    assert majority_label([rec(None), rec(None)], 0.0) == majority_label([rec(None)], 0.0)
    assert majority_label([rec(None)], 0.0).reason == "no_answer" and majority_label([], 0.0).answer is None


def test_latex_answers_cluster_by_equivalence():
    label = majority_label(
        [rec("\\frac{1}{2}", domain="math"), rec("0.5", domain="math"), rec("2", domain="math")], 0.5
    )
    assert label.answer == "\\frac{1}{2}" and label.share == pytest.approx(2 / 3)


def test_kept_solutions_agree_with_the_label_hold_their_calculations_and_are_distinct():
    records = [
        rec("7", "3+4=<<3+4=7>>7 apples.\n#### 7"),
        rec("7", "3+4=<<3+4=7>>7 apples in all.\n#### 7"),  # the same equations: one path
        rec("7", "4+3=<<4+3=7>>7.\n#### 7"),
        rec("7", "3+4=<<3+4=8>>8 oops.\n#### 7"),  # a false calculation
        rec("8", "4+4=<<4+4=8>>8.\n#### 8"),  # disagrees
        rec("7", "seven"),  # no final-answer line
    ]
    selection = agreeing_paths(records, "7")
    assert [r["completion"][:7] for r in selection.kept] == ["3+4=<<3", "4+3=<<4"]
    assert dict(selection.rejected) == {"duplicate": 1, "bad_calculation": 1, "wrong_answer": 1, "no_answer": 1}
