"""Every shipped config composes against the schema; bad keys fail at start-up naming the key."""

import dataclasses
import subprocess
import sys
import tomllib

import pytest
from hydra import compose, initialize_config_module
from hydra.errors import ConfigCompositionException
from omegaconf import MISSING, OmegaConf

import mathlit.config
from mathlit.errors import ConfigError
from mathlit.models.build import build_model, load_tokenizer
from mathlit.rl.settings import check_rl
from mathlit.tasks import run_task
from tests.conftest import ROOT, make_cfg

CONF = ROOT / "conf"
GROUPS = sorted(p for p in CONF.rglob("*") if p.is_dir() and p.name != "__pycache__")
OPTIONS = [(str(p.parent.relative_to(CONF)), p.stem) for p in sorted(CONF.rglob("*.yaml")) if p.parent != CONF]


@pytest.mark.parametrize(("group", "option"), OPTIONS, ids=[f"{g}={o}" for g, o in OPTIONS])
def test_every_config_composes_and_resolves(group, option):
    if group.startswith("hydra"):
        pytest.importorskip("hydra_plugins.hydra_submitit_launcher")
    cfg = make_cfg(f"{group}={option}")
    # throw_on_missing: a key the schema declares but no yaml file gives a value fails here
    container = OmegaConf.to_container(cfg, resolve=True, throw_on_missing=True)
    assert container["task"]["name"]


def test_the_schema_holds_types_and_the_yaml_holds_values():
    """One home each: a schema default would be a second copy of a yaml value, free to drift from it."""
    schemas = [c for c in vars(mathlit.config).values() if dataclasses.is_dataclass(c)]
    values = [
        f"{c.__name__}.{f.name}"
        for c in schemas
        for f in dataclasses.fields(c)
        if f.default is not MISSING and not dataclasses.is_dataclass(f.default_factory)
    ]
    assert values == []


def test_the_walk_finds_configs_in_every_group():
    assert len(OPTIONS) >= 20
    assert {"model", "data", "trainer", "task", "sampler", "optim", "logger", "debug"} <= {g for g, _ in OPTIONS}


def test_default_is_tiny_llama_on_arith_on_one_device():
    cfg = make_cfg()
    assert (cfg.task.name, cfg.model.name, cfg.data.name) == ("sft", "tiny_llama", "arith")
    assert cfg.model.path is None and cfg.model.arch.hidden_size == 128


def test_real_model_configs_need_a_path_and_carry_the_paper_recipe():
    cfg = make_cfg("model=llama2_7b", "data=gsm8k")
    with pytest.raises(ConfigError, match="model=llama2_7b needs model.path"):
        build_model(cfg.model, tokenizer=None)
    with pytest.raises(ConfigError, match="/nowhere: no such model folder \\(set by model.path\\)"):
        load_tokenizer(make_cfg("model=llama2_7b", "model.path=/nowhere").model)
    assert cfg.optim.lr == 2e-5 and cfg.trainer.global_batch_size == 128 and cfg.trainer.precision == "bf16-mixed"
    assert cfg.model.trust_remote_code is False


# A few settings per preset, pinned when the scale settings moved out of the model files.
PRESETS = {
    (): {
        "optim.lr": 3e-3,
        "trainer.max_steps": 1600,
        "trainer.micro_batch_size": 16,
        "trainer.devices": 1,
        "rft.max_new_tokens": 128,
        "verifier.max_steps": 600,
        "sampler.name": "hf",
    },
    ("model=llama2_7b",): {
        "optim.lr": 2e-5,
        "trainer.strategy": "fsdp",
        "trainer.devices": -1,
        "trainer.micro_batch_size": 4,
        "sampler.name": "vllm",
        "sampler.dtype": "bfloat16",
        "model.attn_implementation": "flash_attention_2",
        "rft.max_new_tokens": 256,
    },
    ("model=llama2_13b",): {
        "model.name": "llama2_13b",
        "trainer.micro_batch_size": 2,
        "model.gradient_checkpointing": True,
    },
    ("model=llama2_70b",): {"trainer.micro_batch_size": 1, "sampler.tensor_parallel_size": 8, "trainer.max_epochs": 3},
    ("task=grpo",): {
        "task.name": "grpo",
        "rl.algorithm": "grpo",
        "rl.group_size": 8,
        "rl.kl_coef": 0.0,
        "rl.max_new_tokens": 128,
        "rl.importance_cap": 2.0,
    },
    ("experiment=sft_gsm8k_llama2_7b",): {
        "task.name": "sft",
        "optim.lr": 2e-5,
        "optim.warmup_ratio": 0.03,
        "trainer.global_batch_size": 128,
        "sampler.max_new_tokens": 512,
    },
    ("experiment=rft_gsm8k_llama2_7b",): {
        "task.name": "rft",
        "rft.k": 100,
        "rft.temperature": 0.7,
        "rft.probe_tolerance": 0.05,
        "trainer.precision": "bf16-mixed",
    },
    ("experiment=simplerl_zoo_math_qwen2_5_0_5b",): {
        "task.name": "grpo",
        "model.name": "qwen2_5_0_5b",
        "data.name": "math",
        "rl.algorithm": "grpo",
        "rl.questions_per_step": 1024,
        "rl.group_size": 8,
        "rl.max_new_tokens": 8192,
        "rl.kl_coef": 1e-4,
        "rl.minibatches": 4,
        "optim.lr": 5e-7,
    },
    ("experiment=dapo_math_qwen2_5_1_5b",): {
        "task.name": "grpo",
        "model.name": "qwen2_5_1_5b",
        "rl.algorithm": "dapo",
        "rl.epsilon_low": 0.2,
        "rl.epsilon_high": 0.28,
        "rl.kl_coef": 0.0,
        "rl.questions_per_step": 512,
        "rl.group_size": 16,
        "rl.max_new_tokens": 20480,
        "rl.reward.overlong": 1.0,
        "rl.reward.overlong_buffer": 4096,
        "optim.lr": 1e-6,
        "optim.weight_decay": 0.1,
    },
    ("experiment=multitask_math_llama2_7b",): {
        "verifier.loss": "pairwise",
        "verifier.pair_loss": "margin",
        "verifier.lm_weight": 0.5,
        "verifier.max_new_tokens": 512,
        "eval.n": 64,
        "sampler.max_new_tokens": 1024,
        "data.name": "math",
    },
}


@pytest.mark.parametrize("overrides", PRESETS, ids=lambda o: " ".join(o) or "default")
def test_presets_keep_their_settings(overrides):
    cfg = make_cfg(*overrides)
    assert {key: OmegaConf.select(cfg, key) for key in PRESETS[overrides]} == PRESETS[overrides]


def test_model_files_set_model_keys_only():
    for path in (CONF / "model").glob("*.yaml"):
        assert "@package" not in path.read_text(), path


def test_misspelled_key_fails_naming_it():
    with pytest.raises(ConfigCompositionException, match="lrr"):
        make_cfg("optim.lrr=0.1")


def test_wrong_type_fails_naming_the_key():
    with pytest.raises(ConfigCompositionException, match="max_steps"):
        make_cfg("trainer.max_steps=many")


@pytest.mark.parametrize(
    ("override", "allowed"),
    [
        ("optim.schedule=cosin", "cosine, linear, constant"),
        ("trainer.strategy=fsdp3", "auto, ddp, fsdp, fsdp2"),
        ("verifier.loss=listwise", "pointwise, pairwise"),
        ("rl.algorithm=ppo", "grpo, dr_grpo, dapo, rloo"),
        ("task.name=distill", "sft, eval, rft, verifier, multitask, report, pretrain, synth, grpo"),
        ("multitask.stages=[{kind: verifir}]", "generator, verifier"),
    ],
)
def test_a_choice_outside_its_values_fails_at_composition_naming_key_and_values(override, allowed):
    with pytest.raises(ConfigCompositionException) as e:
        make_cfg(override)
    message = str(e.value) + str(e.value.__cause__)
    assert override.split("=")[0].split(".")[-1] in message and f"[{allowed}]" in message


def test_choices_read_as_their_strings():
    cfg = make_cfg("trainer=fsdp2", "optim.schedule=linear")
    assert cfg.trainer.strategy == "fsdp2" and f"{cfg.optim.schedule}" == "linear" and cfg.task.name == "sft"
    assert OmegaConf.to_yaml(cfg.optim).count("schedule: linear") == 1
    with initialize_config_module("mathlit.conf", version_base="1.3"):
        hydra_cfg = compose("config", overrides=["task=rft"], return_hydra_config=True).hydra
    assert hydra_cfg.run.dir.startswith("outputs/rft/") and hydra_cfg.sweep.dir.startswith("multirun/rft/")


def test_a_key_added_with_plus_that_the_schema_lacks_fails_before_any_work(tmp_path):
    with pytest.raises(ConfigError, match="optim.foo: no such config key"):
        run_task(make_cfg("+optim.foo=1", run_dir=tmp_path))
    with pytest.raises(ConfigError, match="foo: no such config key"):
        run_task(make_cfg("+foo=1", run_dir=tmp_path))
    assert list(tmp_path.iterdir()) == []


def test_command_line_reports_bad_key_in_one_line_at_start_up():
    result = subprocess.run(
        [sys.executable, "-m", "mathlit", "trainer.max_stepz=3"], capture_output=True, text=True, cwd=ROOT, timeout=60
    )
    assert result.returncode != 0
    assert "max_stepz" in result.stderr


RENAMED = [
    ("verifier.name=pairwise", "verifier.name was renamed: use verifier.loss"),
    ("rft.finetune_from=sft", "rft.finetune_from was renamed: use rft.init"),
    ("multitask.stages=[{kind: generate}]", "multitask.stages kind generate was renamed: use generator"),
    (
        "multitask.stages=[{kind: generator}, {kind: evaluate}]",
        "multitask.stages kind evaluate was renamed: use verifier",
    ),
]


@pytest.mark.parametrize(("override", "line"), RENAMED)
def test_an_old_name_fails_at_composition_with_a_line_naming_the_new_one(override, line):
    with pytest.raises(ConfigCompositionException) as e:
        make_cfg(override)
    assert mathlit.config.renamed(f"{e.value}\n{e.value.__cause__}") == line


def test_an_old_key_added_with_plus_names_the_new_one(tmp_path):
    with pytest.raises(ConfigError, match="^verifier.name was renamed: use verifier.loss$"):
        run_task(make_cfg("+verifier.name=pairwise", run_dir=tmp_path))


def test_an_old_key_on_the_command_line_or_in_a_users_config_fails_in_one_line(tmp_path):
    (tmp_path / "experiment").mkdir()
    (tmp_path / "experiment" / "mine.yaml").write_text("# @package _global_\nrft:\n  finetune_from: sft\n")
    for args, line in (
        (["verifier.name=pairwise"], "verifier.name was renamed: use verifier.loss"),
        (["--config-dir", str(tmp_path), "experiment=mine"], "rft.finetune_from was renamed: use rft.init"),
    ):
        command = [sys.executable, "-m", "mathlit", *args, "--cfg", "job"]
        result = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=60)
        assert result.returncode == 1 and result.stderr == f"mathlit: error: {line}\n"


def test_every_config_group_has_a_file_git_can_carry():
    assert [g for g in GROUPS if not any(g.rglob("*.yaml"))] == []


def test_pyproject_ships_every_package_and_config_group():
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    groups = {"mathlit.conf." + str(g.relative_to(CONF)).replace("/", ".") for g in GROUPS}
    packages = {
        ".".join(p.parent.relative_to(ROOT).parts)
        for p in ROOT.glob("*/**/__init__.py")
        if p.parent.parts[len(ROOT.parts)] in ("mathlit", "callbacks", "launchers")
    }
    assert groups - listed == set()
    assert packages - listed == set()


def test_rl_experiments_resolve_to_their_papers_parts():
    """The parts task=grpo trains with (rl.algorithm plus each part's own key), as the papers run them."""
    simplerl = check_rl(make_cfg("experiment=simplerl_zoo_math_qwen2_5_0_5b").rl)
    assert (simplerl.advantage, simplerl.epsilon_low, simplerl.epsilon_high) == ("group_norm", 0.2, 0.2)
    assert simplerl.kl_coef == 1e-4 and not simplerl.dynamic_sampling
    dapo = check_rl(make_cfg("experiment=dapo_math_qwen2_5_1_5b").rl)
    assert (dapo.advantage, dapo.loss_agg) == ("group_norm", "token_mean")
    assert (dapo.epsilon_low, dapo.epsilon_high) == (0.2, 0.28)
    assert dapo.dynamic_sampling and not dapo.overlong_filter and dapo.kl_coef == 0.0
