"""Advantages of G sampled solutions of one question from their rewards: every token of sample i gets A_i.

group_norm (GRPO, DeepSeekMath): (r_i - mean) / std, std with Bessel's correction as TRL and verl compute it;
group_mean (Dr. GRPO): r_i - mean, no division, which would favour questions with little spread;
leave_one_out (RLOO): r_i - mean of the other G - 1 rewards.
A group whose rewards are all equal gets zero advantages under every kind: it carries no signal.
"""

import torch

STD_EPS = 1e-4  # keeps an all-equal group at 0 / eps = 0, never 0 / 0 (TRL's value)
KINDS = ("group_norm", "group_mean", "leave_one_out")


def group_advantages(rewards: torch.Tensor, kind: str) -> torch.Tensor:
    """rewards [questions, G] -> advantages [questions, G] (float)."""
    if kind not in KINDS:
        raise ValueError(f"unknown advantage {kind!r} (rl.advantage: one of {', '.join(KINDS)})")
    if rewards.dim() != 2 or rewards.size(1) < 2:
        raise ValueError(f"rewards must be [questions, G >= 2], got {tuple(rewards.shape)}")
    rewards = rewards.float()
    mean = rewards.mean(dim=1, keepdim=True)
    if kind == "group_mean":
        return rewards - mean
    if kind == "group_norm":
        return (rewards - mean) / (rewards.std(dim=1, keepdim=True) + STD_EPS)
    g = rewards.size(1)
    others = (rewards.sum(dim=1, keepdim=True) - rewards) / (g - 1)
    return rewards - others
