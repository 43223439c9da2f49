"""Rewards from the eval/RFT grader, with each optional term, stored on the sample they belong to."""

import random

import pytest
import torch

from mathlit.answers.grading import Grading
from mathlit.data.example import Example
from mathlit.errors import DataError
from mathlit.rl.advantages import group_advantages
from mathlit.rl.rewards import RewardWeights, check_golds, overlong_penalty, reward_records, reward_summary, verdict
from mathlit.sampling.records import grade

GRADING = Grading("strict", 1e-6)
QUESTION = Example("q/1", "Mia has 3 apples and gets 4 more. How many?", "3+4=<<3+4=7>>7\n#### 7", "7", "gsm8k")
COMPLETIONS = [
    "3+4=<<3+4=7>>7\n#### 7",  # correct, calculations hold
    "3+4=<<3+4=8>>8\n#### 8",  # wrong, a false calculation
    "I do not know.",  # no answer to read, no calculation
    "3+4=<<3+4=8>>7\n#### 7",  # right answer, wrong calculation: right for the wrong reasons
]
NONE = RewardWeights(format=0.0, calculations=0.0, verifier=0.0)
SHAPED = RewardWeights(format=0.25, calculations=0.5, verifier=0.0)


def graded(completions=COMPLETIONS):
    return [grade(QUESTION, "prompt", i, c, 5, "stop", GRADING) for i, c in enumerate(completions)]


def test_one_for_a_correct_answer_and_unreadable_counted_apart_from_wrong():
    records = reward_records(graded(), NONE)
    assert [r["reward"] for r in records] == [1.0, 0.0, 0.0, 1.0]
    assert [r["verdict"] for r in records] == ["correct", "wrong", "unreadable", "correct"]
    summary = reward_summary(records)
    assert summary == {"reward_mean": 0.5, "share_correct": 0.5, "share_wrong": 0.25, "share_unreadable": 0.25}


def test_a_grading_failure_is_unreadable_not_wrong():
    assert verdict({"correct": False, "answer": None, "answer_source": "error"}) == "unreadable"


def test_format_and_calculation_terms_add_their_weights():
    records = reward_records(graded(), SHAPED)
    # 1 + .25 + .5 | 0 + .25 + 0 | nothing (no calculation earns no calculations term) | 1 + .25 + 0
    assert [r["reward"] for r in records] == [1.75, 0.25, 0.0, 1.25]
    assert records[3]["reward_terms"] == {"correct": 1.0, "format": 1.0, "calculations": 0.0}


def test_the_verifier_term_takes_one_score_per_sample():
    records = reward_records(graded(), RewardWeights(0.0, 0.0, 2.0), verifier_scores=[0.5, 0.25, 0.0, 1.0])
    assert [r["reward"] for r in records] == [2.0, 0.5, 0.0, 3.0]
    with pytest.raises(ValueError, match="4 records"):
        reward_records(graded(), RewardWeights(0.0, 0.0, 2.0), verifier_scores=[0.5])
    with pytest.raises(ValueError, match="rl.reward.verifier"):
        reward_records(graded(), RewardWeights(0.0, 0.0, 2.0))


def test_rewards_stay_with_their_samples_when_the_order_changes():
    """Rewards computed on shuffled records belong to the same completions, and the advantages that follow
    push up exactly the correct ones: a reward shifted onto a neighbour fails here."""
    records = graded()
    order = list(range(4))
    random.Random(3).shuffle(order)
    shuffled = reward_records([records[i] for i in order], SHAPED)
    by_completion = {r["completion"]: r["reward"] for r in shuffled}
    assert [by_completion[c] for c in COMPLETIONS] == [1.75, 0.25, 0.0, 1.25]
    advantages = group_advantages(torch.tensor([[r["reward"] for r in shuffled]]), "group_mean")[0]
    pushed_up = {r["completion"] for r, a in zip(shuffled, advantages, strict=True) if a > 0}
    assert pushed_up == {COMPLETIONS[0], COMPLETIONS[3]}


def test_an_unreadable_gold_is_refused_naming_the_row():
    check_golds([QUESTION, Example("m/1", "q", "s", "\\frac{1}{2}", "math")], GRADING)
    with pytest.raises(DataError, match="^q/9: gold answer 'seven' cannot be read"):
        check_golds([QUESTION, Example("q/9", "q", "s", "seven", "gsm8k")], GRADING)
    with pytest.raises(DataError, match="m/2"):
        check_golds([Example("m/2", "q", "s", "  ", "math")], GRADING)


def test_dapos_soft_overlong_punishment_by_hand():
    # limit 100 tokens, buffer 20: nothing up to 80, then linear to 1 at 100
    assert [overlong_penalty(n, 100, 20) for n in (10, 80, 85, 90, 100)] == [0.0, 0.0, 0.25, 0.5, 1.0]
    weights = RewardWeights(0.0, 0.0, 0.0, overlong=2.0, overlong_buffer=4, max_tokens=6)
    records = graded()  # each graded with num_tokens=5: penalty (5 - 2) / 4 = 0.75, weighted by 2
    assert [r["reward"] for r in reward_records(records, weights)] == [1 - 1.5, -1.5, -1.5, 1 - 1.5]
