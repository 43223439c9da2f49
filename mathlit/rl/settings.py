"""rl.algorithm -> the parts it sets; a part's own key (not null) overrides it. Checked once at start-up.

    algorithm  advantage      loss_agg    epsilon low/high  dynamic sampling  overlong filter
    grpo       group_norm     seq_mean    0.2 / 0.2         off               off
    dr_grpo    group_mean     constant    0.2 / 0.2         off               off
    dapo       group_norm     token_mean  0.2 / 0.28        on                on
    rloo       leave_one_out  seq_mean    0.2 / 0.2         off               off
The KL term (rl.kl_coef) is off unless set, as Dr. GRPO and DAPO run (DeepSeekMath used 0.04).
"""

from dataclasses import dataclass
from pathlib import Path

from mathlit.errors import ConfigError
from mathlit.rl.advantages import KINDS
from mathlit.rl.loss import AGGREGATIONS


@dataclass(frozen=True)
class RLParts:
    advantage: str
    loss_agg: str
    epsilon_low: float
    epsilon_high: float
    dynamic_sampling: bool
    overlong_filter: bool
    loss_divisor: int | None = None  # loss_agg=constant's divisor
    kl_coef: float = 0.0
    importance_cap: float | None = None  # None: no importance correction


ALGORITHMS = {
    "grpo": RLParts("group_norm", "seq_mean", 0.2, 0.2, False, False),
    "dr_grpo": RLParts("group_mean", "constant", 0.2, 0.2, False, False),
    "dapo": RLParts("group_norm", "token_mean", 0.2, 0.28, True, True),
    "rloo": RLParts("leave_one_out", "seq_mean", 0.2, 0.2, False, False),
}


def _set(value, preset):
    return preset if value is None else value


def resolve(rl) -> RLParts:
    """The parts of rl.algorithm with every part the config sets itself in their place."""
    preset = ALGORITHMS.get(str(rl.algorithm))
    if preset is None:
        raise ConfigError(f"rl.algorithm={rl.algorithm}: unknown (one of {', '.join(ALGORITHMS)})")
    for key, known in (("advantage", KINDS), ("loss_agg", AGGREGATIONS)):
        if rl[key] is not None and str(rl[key]) not in known:
            raise ConfigError(f"rl.{key}={rl[key]}: unknown (one of {', '.join(known)})")
    low = _set(rl.epsilon_low, _set(rl.epsilon, preset.epsilon_low))
    high = _set(rl.epsilon_high, _set(rl.epsilon, preset.epsilon_high))
    return RLParts(
        advantage=str(_set(rl.advantage, preset.advantage)),
        loss_agg=str(_set(rl.loss_agg, preset.loss_agg)),
        epsilon_low=float(low),
        epsilon_high=float(high),
        dynamic_sampling=bool(_set(rl.dynamic_sampling, preset.dynamic_sampling)),
        overlong_filter=bool(_set(rl.overlong_filter, preset.overlong_filter)),
        loss_divisor=int(_set(rl.loss_divisor, rl.max_new_tokens)),
        kl_coef=float(rl.kl_coef),
        importance_cap=float(rl.importance_cap) if rl.importance_correction else None,
    )


def check_rl(rl, world_size: int = 1) -> RLParts:
    """Bad rl.* settings as one line naming the key, before any model is loaded; the resolved parts."""
    parts = resolve(rl)
    if rl.group_size < 2:
        raise ConfigError(f"rl.group_size={rl.group_size}: at least 2 samples per question are needed to compare them")
    for key in ("questions_per_step", "updates_per_batch", "minibatches", "max_new_tokens", "max_draws"):
        if rl[key] < 1:
            raise ConfigError(f"rl.{key}={rl[key]}: must be at least 1")
    if rl.minibatches > rl.questions_per_step * rl.group_size:
        raise ConfigError(
            f"rl.minibatches={rl.minibatches}: more parts than the {rl.questions_per_step * rl.group_size} samples "
            "of a batch (rl.questions_per_step x rl.group_size)"
        )
    if rl.questions_per_step % world_size:
        raise ConfigError(
            f"rl.questions_per_step={rl.questions_per_step} does not divide over {world_size} ranks: "
            "each rank samples and grades whole groups"
        )
    if not 0 <= parts.epsilon_low < 1 or parts.epsilon_high < 0:
        raise ConfigError(
            f"rl.epsilon_low={parts.epsilon_low}, rl.epsilon_high={parts.epsilon_high}: need 0 <= low < 1"
        )
    if parts.importance_cap is not None and parts.importance_cap < 1:
        raise ConfigError(f"rl.importance_cap={rl.importance_cap}: a cap below 1 down-weights every token")
    if rl.reward.verifier:
        if not rl.reward_model:
            raise ConfigError(f"rl.reward.verifier={rl.reward.verifier} weights a verifier but rl.reward_model is null")
        if not (Path(rl.reward_model) / "config.json").exists():
            raise ConfigError(f"rl.reward_model={rl.reward_model}: no verifier folder there (no config.json)")
    if rl.reward.overlong and not 0 < rl.reward.overlong_buffer <= rl.max_new_tokens:
        raise ConfigError(
            f"rl.reward.overlong_buffer={rl.reward.overlong_buffer}: "
            f"between 1 and rl.max_new_tokens={rl.max_new_tokens}"
        )
    if rl.eval_every is not None and rl.eval_every < 1:
        raise ConfigError(f"rl.eval_every={rl.eval_every}: at least 1, or null for the end only")
    return parts


def steps_per_batch(rl) -> int:
    """Optimizer steps per batch of rollouts."""
    return rl.updates_per_batch * rl.minibatches


def check_devices(trainer) -> None:
    """task=grpo runs on one device or data-parallel (trainer.strategy=ddp); sharded weights (fsdp, fsdp2) are
    not built for it yet (the rollouts would need the full weights gathered every step)."""
    one_device = str(trainer.devices) == "1" and trainer.num_nodes == 1
    if str(trainer.strategy) == "ddp" or (str(trainer.strategy) == "auto" and one_device):
        return
    raise ConfigError(
        f"task=grpo runs on one device or with trainer.strategy=ddp, not trainer.strategy={trainer.strategy} "
        f"on trainer.devices={trainer.devices}"
    )
