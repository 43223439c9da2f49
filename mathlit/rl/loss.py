"""The clipped policy-gradient loss of GRPO and its kin, per token, then aggregated over the batch.

Per token t of sample i, with rho = pi_theta / pi_old (pi_old: the weights that sampled the batch):
    l = -min(rho A_i, clip(rho, 1 - epsilon_low, 1 + epsilon_high) A_i)
        [x w, the truncated importance weight min(pi_old / pi_engine, C), when the engine's log-probs are given]
        [+ kl_coef x k3(pi_ref, pi_theta), when a frozen reference is given]
epsilon_low = epsilon_high: PPO/GRPO's symmetric clip; epsilon_high > epsilon_low: DAPO's clip-higher.

Aggregations (what the paper's 1/|o_i| and 1/G become):
    seq_mean   (GRPO):    mean over samples of (sum over its tokens / its token count)
    token_mean (DAPO):    sum over every token of the batch / the batch's token count
    constant   (Dr. GRPO): sum over every token / (samples x a constant, the generation limit)
The counts may be those of a larger batch (`sequences`, `tokens`), so that micro-batches of one optimizer step
add up to the loss of the whole step.
"""

from typing import NamedTuple

import torch

AGGREGATIONS = ("seq_mean", "token_mean", "constant")


class PolicyLoss(NamedTuple):
    loss: torch.Tensor  # scalar, to minimise
    clipped_tokens: torch.Tensor  # tokens whose gradient the clip removed (rho out of range on the side A pushes)
    kl_sum: torch.Tensor  # sum of k3 over the tokens (0 without a reference)
    tokens: torch.Tensor  # tokens counted (mask sum)


def k3(logp: torch.Tensor, ref_logp: torch.Tensor) -> torch.Tensor:
    """Schulman's k3 estimator of KL(pi_theta || pi_ref) per token: r - log r - 1 with r = pi_ref / pi_theta
    (never negative, unbiased under samples of pi_theta)."""
    log_ratio = ref_logp - logp
    return torch.exp(log_ratio) - log_ratio - 1


def truncated_importance_weights(old_logp: torch.Tensor, engine_logp: torch.Tensor, cap: float) -> torch.Tensor:
    """min(pi_old / pi_engine, cap) per token (no gradient): corrects for sampling with an engine whose
    log-probs differ from the trainer's for the same weights (Yao et al. 2025)."""
    return torch.exp(old_logp - engine_logp).clamp(max=cap).detach()


def logprob_gap(old_logp: torch.Tensor, engine_logp: torch.Tensor, mask: torch.Tensor) -> tuple[float, float]:
    """(mean, max) of |trainer - engine| log-prob over the masked tokens: the sync health every step logs."""
    gap = (old_logp - engine_logp).abs()[mask.bool()]
    return (gap.mean().item(), gap.max().item()) if gap.numel() else (0.0, 0.0)


def aggregate(
    per_token: torch.Tensor,
    mask: torch.Tensor,
    kind: str,
    *,
    max_tokens: int | None = None,
    sequences: int | None = None,
    tokens: int | float | None = None,
) -> torch.Tensor:
    """per_token [N, T] and mask [N, T] -> a scalar (see the module docstring); sequences and tokens default
    to this batch's counts; max_tokens is constant's divisor."""
    mask = mask.to(per_token.dtype)
    sequences = per_token.size(0) if sequences is None else sequences
    if kind == "seq_mean":
        per_sequence = (per_token * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1)
        return per_sequence.sum() / sequences
    if kind == "token_mean":
        tokens = mask.sum() if tokens is None else tokens
        return (per_token * mask).sum() / max(float(tokens), 1.0)
    if kind == "constant":
        if not max_tokens:
            raise ValueError("aggregation 'constant' needs max_tokens (rl.loss_divisor or rl.max_new_tokens)")
        return (per_token * mask).sum() / (sequences * max_tokens)
    raise ValueError(f"unknown loss aggregation {kind!r} (rl.loss_agg: one of {', '.join(AGGREGATIONS)})")


def policy_loss(
    logp: torch.Tensor,
    old_logp: torch.Tensor,
    advantages: torch.Tensor,
    mask: torch.Tensor,
    *,
    epsilon_low: float,
    epsilon_high: float,
    aggregation: str,
    max_tokens: int | None = None,
    sequences: int | None = None,
    tokens: int | float | None = None,
    engine_logp: torch.Tensor | None = None,
    importance_cap: float | None = None,
    ref_logp: torch.Tensor | None = None,
    kl_coef: float = 0.0,
) -> PolicyLoss:
    """logp, old_logp, mask [N, T] (the sampled tokens' log-probs now and at sampling); advantages [N]."""
    mask = mask.bool()
    adv = advantages.to(logp.dtype).unsqueeze(1)
    ratio = torch.exp(logp - old_logp.detach())
    unclipped = ratio * adv
    clipped = ratio.clamp(1 - epsilon_low, 1 + epsilon_high) * adv
    per_token = -torch.min(unclipped, clipped)
    if engine_logp is not None and importance_cap is not None:
        per_token = per_token * truncated_importance_weights(old_logp, engine_logp, importance_cap)
    kl_sum = torch.zeros((), dtype=logp.dtype)
    if ref_logp is not None and kl_coef:
        kl = k3(logp, ref_logp.detach())
        per_token = per_token + kl_coef * kl
        kl_sum = (kl * mask).sum().detach()
    loss = aggregate(per_token, mask, aggregation, max_tokens=max_tokens, sequences=sequences, tokens=tokens)
    out_of_range = ((ratio < 1 - epsilon_low) & (adv < 0)) | ((ratio > 1 + epsilon_high) & (adv > 0))
    return PolicyLoss(loss, (out_of_range & mask).sum().detach(), kl_sum, mask.sum())
