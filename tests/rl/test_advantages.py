"""Each advantage kind against a hand computation on a tiny group."""

import math

import pytest
import torch

from mathlit.rl.advantages import STD_EPS, group_advantages


def test_grpo_divides_by_the_groups_sample_std():
    # mean 0.5; std with Bessel's correction sqrt((4 x 0.25) / 3) = sqrt(1/3)
    a = group_advantages(torch.tensor([[1.0, 0.0, 0.0, 1.0]]), "group_norm")
    expected = 0.5 / (math.sqrt(1 / 3) + STD_EPS)
    assert a.tolist()[0] == pytest.approx([expected, -expected, -expected, expected])


def test_dr_grpo_subtracts_the_mean_only():
    a = group_advantages(torch.tensor([[1.0, 0.0, 0.0, 0.0], [2.0, 0.0, 1.0, 1.0]]), "group_mean")
    assert a.tolist() == [[0.75, -0.25, -0.25, -0.25], [1.0, -1.0, 0.0, 0.0]]


def test_rloo_subtracts_the_mean_of_the_others():
    # sample 0: 1 - mean(0, 0) = 1; samples 1, 2: 0 - mean(1, 0) = -0.5
    a = group_advantages(torch.tensor([[1.0, 0.0, 0.0]]), "leave_one_out")
    assert a.tolist()[0] == pytest.approx([1.0, -0.5, -0.5])


@pytest.mark.parametrize("kind", ["group_norm", "group_mean", "leave_one_out"])
def test_a_group_without_signal_gets_zero_advantages(kind):
    a = group_advantages(torch.tensor([[1.0, 1.0, 1.0], [0.0, 0.0, 0.0]]), kind)
    assert a.abs().max().item() == 0.0


@pytest.mark.parametrize("kind", ["group_norm", "group_mean", "leave_one_out"])
def test_each_advantage_follows_its_own_sample(kind):
    rewards = torch.tensor([[0.0, 1.0, 0.0, 0.0, 1.0, 0.0]])
    order = torch.tensor([3, 1, 5, 0, 2, 4])
    assert torch.equal(group_advantages(rewards[:, order], kind), group_advantages(rewards, kind)[:, order])
    assert (group_advantages(rewards, kind)[0] > 0).tolist() == [False, True, False, False, True, False]


def test_groups_are_independent_and_bad_input_is_refused():
    a = group_advantages(torch.tensor([[1.0, 0.0], [5.0, 5.0]]), "group_mean")
    assert a.tolist() == [[0.5, -0.5], [0.0, 0.0]]
    with pytest.raises(ValueError, match="rl.advantage"):
        group_advantages(torch.ones(1, 2), "ppo")
    with pytest.raises(ValueError, match="G >= 2"):
        group_advantages(torch.ones(3, 1), "group_mean")
