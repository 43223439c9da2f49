"""Re-ranking on hand-made clusters: ties, empty clusters, all-wrong candidates."""

import pytest

from mathlit.metrics.rerank import best_of, cluster_rerank, rerank_summary, weighted_vote
from mathlit.metrics.verifier import accuracy, auroc, best_of_n, within_question_auroc


def rec(i, answer, score, correct, pid="p"):
    return {"id": pid, "sample_idx": i, "answer": answer, "score": score, "correct": correct, "domain": "gsm8k"}


# Answer 5 (wrong) is the majority; 7 (right) has the single best score; 9 (wrong) is scored well twice.
SAMPLES = [
    rec(0, "5", 0.2, False),
    rec(1, "5", 0.3, False),
    rec(2, "5", 0.1, False),
    rec(3, "7", 0.9, True),
    rec(4, "9", 0.6, False),
    rec(5, "9", 0.7, False),
]


def test_best_of_picks_the_highest_score():
    assert best_of(SAMPLES)["answer"] == "7"


def test_weighted_vote_sums_scores_per_answer():
    assert weighted_vote(SAMPLES)[0]["answer"] == "9"  # 1.3 > 0.9 > 0.6


@pytest.mark.parametrize(
    ("top_k", "aggregate", "answer"),
    [
        (1, "mean", "5"),  # only the largest cluster survives
        (2, "mean", "9"),  # among {5, 9}: mean 0.65 beats 0.2
        (3, "mean", "7"),  # all three: 7's mean 0.9 wins
        (3, "sum", "9"),
        (3, "max", "7"),
    ],
)
def test_cluster_rerank_keeps_the_largest_clusters_then_scores_them(top_k, aggregate, answer):
    assert cluster_rerank(SAMPLES, top_k, aggregate)[0]["answer"] == answer


def test_ties_go_to_the_answer_seen_first():
    tied = [rec(0, "3", 0.5, True), rec(1, "4", 0.5, False)]
    assert best_of(tied)["answer"] == "3"
    assert weighted_vote(tied)[0]["answer"] == "3"
    assert cluster_rerank(tied, 1)[0]["answer"] == "3"  # equal sizes: the first-seen cluster is kept


def test_empty_clusters_and_missing_answers_never_win():
    nothing = [rec(0, None, 0.99, False), rec(1, None, 0.98, False)]
    assert best_of(nothing) is None and weighted_vote(nothing) is None and cluster_rerank(nothing) is None
    some = nothing + [rec(2, "1", 0.01, True)]
    assert best_of(some)["answer"] == "1" and cluster_rerank(some)[0]["answer"] == "1"
    with pytest.raises(ValueError, match="aggregate"):
        cluster_rerank(some, aggregate="median")


def test_summary_when_every_candidate_is_wrong_and_when_reranking_fixes_majority():
    wrong = [rec(i, "5", 0.5, False, pid="w") for i in range(4)]
    summary = rerank_summary(SAMPLES[:4] + wrong, top_k=2)
    # Problem p (first 4 samples: 5, 5, 5, 7): majority wrong; best-of and the weighted vote (0.6 for 5
    # against 0.9 for 7) right. Problem w: every candidate wrong, so nothing can be right.
    assert summary["problems"] == 2 and summary["n"] == 4
    assert summary["maj@4"] == 0.0 and summary["best_of@4"] == 0.5 and summary["cluster@4"] == 0.5
    assert summary["pass@4"] == 0.5 and summary["weighted@4"] == 0.5
    assert summary["ci95"]["best_of@4"] == [0.0, 1.0] and summary["ci95"]["maj@4"] == [0.0, 0.0]


def test_auroc_accuracy_and_best_of_n_by_hand():
    assert auroc([0.1, 0.4, 0.35, 0.8], [False, False, True, True]) == 0.75
    assert auroc([0.5, 0.5], [True, False]) == 0.5 and auroc([1.0], [True]) is None
    assert accuracy([-1.0, 2.0, 0.5], [False, True, False]) == pytest.approx(2 / 3)
    assert best_of_n([0, 0, 1, 1], [0.2, 0.9, 0.5, 0.5], [False, True, False, True]) == 0.5


def test_within_question_auroc_ignores_which_questions_are_hard():
    # The score only knows the questions: question 0 (all correct) high, question 1 (mixed) flat, question 2 (all
    # wrong) low. Pooled it separates correct from wrong; within the mixed question it is chance.
    qids = [0, 0, 1, 1, 1, 2, 2]
    scores = [0.9, 0.9, 0.5, 0.5, 0.5, 0.1, 0.1]
    labels = [True, True, True, False, False, False, False]
    assert auroc(scores, labels) > 0.8
    assert within_question_auroc(qids, scores, labels) == 0.5
    # Ranking each mixed question's solutions right, whatever the level: 1.0; one of two questions reversed: 0.5.
    assert within_question_auroc([0, 0, 1, 1], [0.2, 0.1, 0.9, 0.8], [True, False, True, False]) == 1.0
    assert within_question_auroc([0, 0, 1, 1], [0.2, 0.1, 0.8, 0.9], [True, False, True, False]) == 0.5
    assert within_question_auroc([0, 1], [0.3, 0.7], [True, False]) is None  # no question has both
