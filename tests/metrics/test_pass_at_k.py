"""Metric functions against values worked out by hand."""

import math

import pytest

from mathlit.metrics.pass_at_k import cluster_answers, majority, pass_at_k, summarize, summarize_by


def rec(pid, i, answer, correct, domain="gsm8k", **meta):
    return {"id": pid, "sample_idx": i, "answer": answer, "correct": correct, "domain": domain, "meta": meta}


@pytest.mark.parametrize(
    ("n", "c", "k", "expected"),
    [
        (4, 1, 1, 0.25),
        (4, 1, 2, 1 - 3 / 6),
        (4, 0, 4, 0.0),
        (4, 4, 1, 1.0),
        (10, 3, 5, 1 - math.comb(7, 5) / math.comb(10, 5)),
        (256, 1, 256, 1.0),
        (256, 2, 1, 2 / 256),
    ],
)
def test_pass_at_k_is_unbiased_estimator(n, c, k, expected):
    assert pass_at_k(n, c, k) == pytest.approx(expected)


def test_pass_at_k_needs_enough_samples():
    with pytest.raises(ValueError):
        pass_at_k(2, 1, 4)


def test_majority_groups_equivalent_answers_and_ties_go_to_the_first_seen():
    samples = [rec("p", 0, "7", False), rec("p", 1, "0.5", True), rec("p", 2, "1/2", True), rec("p", 3, "7.0", False)]
    clusters = cluster_answers(samples)
    assert [len(c) for c in clusters] == [2, 2]
    assert majority(samples)[0]["answer"] == "7"  # 2 vs 2: "7" came first
    assert majority(samples[1:])[0]["answer"] == "0.5"


def test_math_answers_cluster_by_equivalence():
    samples = [
        rec("p", 0, r"\frac{1}{2}", True, "math"),
        rec("p", 1, r"\dfrac12", True, "math"),
        rec("p", 2, "0.5", True, "math"),
        rec("p", 3, r"\sqrt{2}", False, "math"),
    ]
    assert [len(c) for c in cluster_answers(samples)] == [3, 1]


def test_no_answer_never_wins():
    samples = [rec("p", 0, None, False), rec("p", 1, None, False), rec("p", 2, "3", True)]
    assert majority(samples)[0]["answer"] == "3"
    assert majority([rec("p", 0, None, False)]) is None


def test_maj_at_k_averages_disjoint_runs():
    # runs of 2: (wrong, wrong) -> wrong, (right, wrong) -> tie, right came first -> right
    samples = [rec("p", 0, "1", False), rec("p", 1, "1", False), rec("p", 2, "5", True), rec("p", 3, "2", False)]
    s = summarize(samples)
    assert s["maj@2"] == 0.5
    assert s["maj@4"] == 0.0  # "1" twice beats "5" and "2"
    assert s["maj@1"] == 0.25


def test_summary_by_hand():
    records = [rec("a", i, str(i), i == 0, level=1) for i in range(4)] + [
        rec("b", i, "9", True, level=2) for i in range(4)
    ]
    s = summarize(records)
    assert s["problems"] == 2 and s["n"] == 4
    assert s["pass_ratio"] == pytest.approx((1 / 4 + 1) / 2)
    assert s["pass@1"] == pytest.approx((0.25 + 1) / 2) and s["pass@4"] == 1.0
    assert s["maj@4"] == pytest.approx((1 + 1) / 2)  # a: four different answers, the first ("0") is right
    # Intervals over the two problems: every metric's, from resampling (a, b): between the two problems' values.
    assert s["ci95"].keys() == s.keys() - {"problems", "n", "ci95"}
    assert (
        s["ci95"]["pass@4"] == [1.0, 1.0] and 0.25 <= s["ci95"]["pass@1"][0] < s["pass@1"] < s["ci95"]["pass@1"][1] <= 1
    )
    by_level = summarize_by(records, "level")
    assert by_level["1"]["pass_ratio"] == 0.25 and by_level["2"]["pass_ratio"] == 1.0
