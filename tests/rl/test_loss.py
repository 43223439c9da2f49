"""The clipped policy loss, its aggregations, KL and importance correction against hand computations.

The batch: two samples of three token slots, the second with two real tokens.
    sample 0, A = +1: rho = 1.0, 1.5, 0.5
    sample 1, A = -2: rho = 1.0, 0.7, (masked)
With epsilon 0.2 the per-token losses -min(rho A, clip(rho) A) are
    sample 0: -1, -1.2 (clipped), -0.5 (rho < 0.8 but A > 0: the unclipped term is the min)   sum -2.7, mean -0.9
    sample 1:  2,  1.6 (clipped: rho < 0.8 and A < 0)                                          sum  3.6, mean  1.8
"""

import math

import pytest
import torch

from mathlit.rl.loss import aggregate, k3, logprob_gap, policy_loss, truncated_importance_weights

RATIOS = torch.tensor([[1.0, 1.5, 0.5], [1.0, 0.7, 3.0]])
MASK = torch.tensor([[1, 1, 1], [1, 1, 0]])
ADV = torch.tensor([1.0, -2.0])
OLD = torch.tensor([[-1.0, -2.0, -0.5], [-0.3, -1.1, -2.2]])


def loss(aggregation="seq_mean", eps_low=0.2, eps_high=0.2, **kwargs):
    logp = (OLD + RATIOS.log()).requires_grad_()
    out = policy_loss(
        logp, OLD, ADV, MASK, epsilon_low=eps_low, epsilon_high=eps_high, aggregation=aggregation, **kwargs
    )
    return out, logp


def test_grpo_mean_per_sample_then_over_samples():
    out, _ = loss("seq_mean")
    assert out.loss.item() == pytest.approx((-0.9 + 1.8) / 2)
    assert (out.clipped_tokens.item(), out.tokens.item()) == (2, 5)


def test_dapo_mean_over_every_token_of_the_batch():
    assert loss("token_mean")[0].loss.item() == pytest.approx((-2.7 + 3.6) / 5)


def test_dr_grpo_divides_by_a_constant():
    assert loss("constant", max_tokens=4)[0].loss.item() == pytest.approx(0.9 / (2 * 4))
    with pytest.raises(ValueError, match="max_tokens"):
        loss("constant")


def test_clip_higher_lets_rare_tokens_rise_further():
    # eps_high 0.28: sample 0's rho 1.5 is clipped at 1.28, not 1.2: (-1 - 1.28 - 0.5 + 3.6) / 5
    out, _ = loss("token_mean", eps_high=0.28)
    assert out.loss.item() == pytest.approx(0.82 / 5)
    # rho 1.25 with A > 0 is inside the clip-higher range (no clip) but outside the symmetric one
    logp = torch.tensor([[math.log(1.25)]])
    args = (logp, torch.zeros(1, 1), torch.tensor([1.0]), torch.ones(1, 1))
    assert policy_loss(*args, epsilon_low=0.2, epsilon_high=0.28, aggregation="seq_mean").loss.item() == pytest.approx(
        -1.25
    )
    assert policy_loss(*args, epsilon_low=0.2, epsilon_high=0.2, aggregation="seq_mean").loss.item() == pytest.approx(
        -1.2
    )


def test_the_clip_removes_the_gradient_and_the_rest_is_minus_rho_a_over_the_counts():
    out, logp = loss("seq_mean")
    out.loss.backward()
    grad = logp.grad
    assert grad[0, 1].item() == 0.0 and grad[1, 1].item() == 0.0 and grad[1, 2].item() == 0.0  # clipped, masked
    # d(-rho A)/dlogp = -rho A, over the sample's 3 tokens and the 2 samples
    assert grad[0, 2].item() == pytest.approx(-0.5 * 1.0 / 3 / 2)
    assert grad[1, 0].item() == pytest.approx(2.0 / 2 / 2)


@pytest.mark.parametrize(
    ("aggregation", "extra"), [("seq_mean", {}), ("token_mean", {}), ("constant", {"max_tokens": 4})]
)
def test_micro_batches_add_up_to_the_whole_batch(aggregation, extra):
    per_token = torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]])
    mask = torch.tensor([[1, 1, 0], [1, 1, 1], [1, 0, 0]])
    whole = aggregate(per_token, mask, aggregation, **extra)
    counts = {"sequences": 3, "tokens": 6}
    parts = aggregate(per_token[:2], mask[:2], aggregation, **counts, **extra)
    parts += aggregate(per_token[2:], mask[2:], aggregation, **counts, **extra)
    assert parts.item() == pytest.approx(whole.item())


def test_k3_kl_by_hand_and_added_with_its_coefficient():
    logp = torch.tensor([[-1.0, -2.0]])
    ref = logp + torch.tensor([[0.5, 0.0]])
    assert k3(logp, ref).tolist()[0] == pytest.approx([math.exp(0.5) - 0.5 - 1, 0.0])
    args = (logp, logp, torch.tensor([0.0]), torch.ones(1, 2))
    out = policy_loss(*args, epsilon_low=0.2, epsilon_high=0.2, aggregation="token_mean", ref_logp=ref, kl_coef=0.1)
    assert out.loss.item() == pytest.approx(0.1 * (math.exp(0.5) - 1.5) / 2)
    assert out.kl_sum.item() == pytest.approx(math.exp(0.5) - 1.5)
    no_kl = policy_loss(*args, epsilon_low=0.2, epsilon_high=0.2, aggregation="token_mean", ref_logp=ref)
    assert no_kl.loss.item() == 0.0  # kl_coef 0: the reference is ignored


def test_truncated_importance_sampling_weights_each_token_up_to_the_cap():
    # pi_old / pi_engine = 0.5, 3 (capped at 2), 1 on sample 0; 1 on sample 1
    engine = OLD - torch.tensor([[math.log(0.5), math.log(3.0), 0.0], [0.0, 0.0, 0.0]])
    weights = truncated_importance_weights(OLD, engine, cap=2.0)
    assert weights[0].tolist() == pytest.approx([0.5, 2.0, 1.0])
    out, _ = loss("token_mean", engine_logp=engine, importance_cap=2.0)
    assert out.loss.item() == pytest.approx((-1 * 0.5 - 1.2 * 2.0 - 0.5 + 3.6) / 5)
    mean, largest = logprob_gap(OLD, engine, MASK)
    assert mean == pytest.approx((math.log(2) + math.log(3)) / 5) and largest == pytest.approx(math.log(3))
