"""rl.algorithm sets the parts, each part's key overrides it, and bad settings fail at start-up naming the key."""

import pytest
from hydra.errors import ConfigCompositionException

from mathlit.errors import ConfigError
from mathlit.rl.settings import check_devices, check_rl, resolve
from tests.conftest import make_cfg


def rl(*overrides):
    return make_cfg("task=grpo", *[f"rl.{o}" for o in overrides]).rl


@pytest.mark.parametrize(
    ("algorithm", "parts"),
    [
        ("grpo", ("group_norm", "seq_mean", 0.2, 0.2, False, False)),
        ("dr_grpo", ("group_mean", "constant", 0.2, 0.2, False, False)),
        ("dapo", ("group_norm", "token_mean", 0.2, 0.28, True, True)),
        ("rloo", ("leave_one_out", "seq_mean", 0.2, 0.2, False, False)),
    ],
)
def test_each_algorithm_sets_its_parts(algorithm, parts):
    p = resolve(rl(f"algorithm={algorithm}"))
    assert (p.advantage, p.loss_agg, p.epsilon_low, p.epsilon_high, p.dynamic_sampling, p.overlong_filter) == parts
    assert p.kl_coef == 0.0 and p.importance_cap == 2.0 and p.loss_divisor == rl().max_new_tokens


def test_each_part_is_settable_alone():
    p = resolve(rl("algorithm=dapo", "loss_agg=seq_mean", "dynamic_sampling=false", "epsilon=0.1", "kl_coef=0.04"))
    assert (p.advantage, p.loss_agg, p.dynamic_sampling, p.overlong_filter) == ("group_norm", "seq_mean", False, True)
    assert (p.epsilon_low, p.epsilon_high, p.kl_coef) == (0.1, 0.1, 0.04)  # epsilon sets both sides
    p = resolve(rl("epsilon=0.1", "epsilon_high=0.3", "loss_divisor=400", "importance_correction=false"))
    assert (p.epsilon_low, p.epsilon_high, p.loss_divisor, p.importance_cap) == (0.1, 0.3, 400, None)


@pytest.mark.parametrize("override", ["algorithm=ppo", "advantage=zscore", "loss_agg=sum"])
def test_an_unknown_algorithm_or_part_fails_at_composition_naming_the_key(override):
    with pytest.raises(ConfigCompositionException) as e:
        rl(override)
    assert override.split("=")[0] in str(e.value) + str(e.value.__cause__)


@pytest.mark.parametrize(
    ("overrides", "world", "line"),
    [
        (["group_size=1"], 1, "rl.group_size=1: at least 2 samples"),
        (["questions_per_step=3"], 2, "rl.questions_per_step=3 does not divide over 2 ranks"),
        (["reward.verifier=0.5"], 1, "rl.reward.verifier=0.5 weights a verifier but rl.reward_model is null"),
        (["reward.verifier=0.5", "reward_model=/nowhere"], 1, "rl.reward_model=/nowhere: no verifier folder"),
        (["updates_per_batch=0"], 1, "rl.updates_per_batch=0: must be at least 1"),
        (["questions_per_step=2", "group_size=2", "minibatches=5"], 1, "rl.minibatches=5: more parts than the 4"),
        (["importance_cap=0.5"], 1, "rl.importance_cap=0.5"),
        (["eval_every=0"], 1, "rl.eval_every=0"),
        (["reward.overlong=1", "reward.overlong_buffer=0"], 1, "rl.reward.overlong_buffer=0: between 1 and"),
    ],
)
def test_bad_settings_are_one_line_naming_the_key(overrides, world, line):
    with pytest.raises(ConfigError, match=f"^{line}") as e:
        check_rl(rl(*overrides), world_size=world)
    assert "\n" not in str(e.value)


def test_good_settings_pass_and_divide_over_ranks():
    assert check_rl(rl("questions_per_step=4"), world_size=2).advantage == "group_norm"


def test_one_device_or_ddp_and_sharded_strategies_are_refused():
    check_devices(make_cfg("task=grpo").trainer)
    check_devices(make_cfg("task=grpo", "trainer=ddp", "trainer.devices=2").trainer)
    with pytest.raises(ConfigError, match="^task=grpo runs on one device or with trainer.strategy=ddp, not .*fsdp2"):
        check_devices(make_cfg("task=grpo", "trainer=fsdp2", "trainer.devices=2").trainer)
    with pytest.raises(ConfigError, match="trainer.strategy=auto on trainer.devices=2"):
        check_devices(make_cfg("task=grpo", "trainer.devices=2").trainer)
