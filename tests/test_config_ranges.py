"""Every numeric key of the schema has a range, checked at start-up with one line naming the key and the range;
a prompt template without {question} is refused (mathlit.config_ranges)."""

import subprocess
import sys

import pytest

from mathlit.config import MathlitConfig
from mathlit.config_ranges import RANGES, Range, check_values, numeric_keys
from mathlit.errors import ConfigError
from mathlit.tasks import run_task
from tests.conftest import ROOT, make_cfg
from tests.test_configs import OPTIONS


def test_every_numeric_key_of_the_schema_has_a_range():
    keys = list(numeric_keys(MathlitConfig))
    without = [key for key in keys if key not in RANGES]
    assert without == [], f"numeric keys without a range: add them to mathlit/config_ranges.RANGES: {without}"
    stale = [key for key in RANGES if key not in keys]
    assert stale == [], f"ranges of keys the schema no longer has: {stale}"


@pytest.mark.parametrize(("group", "option"), [o for o in OPTIONS if not o[0].startswith("hydra")])
def test_every_shipped_config_is_in_range(group, option):
    check_values(make_cfg(f"{group}={option}"))


@pytest.mark.parametrize(
    ("override", "line"),
    [
        # counts: positive
        ("sampler.max_new_tokens=0", "sampler.max_new_tokens=0: must be >= 1"),
        ("trainer.global_batch_size=0", "trainer.global_batch_size=0: must be >= 1"),
        ("data.arith.num_train=-3", "data.arith.num_train=-3: must be >= 1"),
        # counts where 0 means none
        ("eval.n=-1", "eval.n=-1: must be >= 0"),
        # steps: -1 (no limit) or positive
        ("trainer.max_steps=-5", r"trainer.max_steps=-5: must be -1 or >= 0"),
        ("trainer.max_epochs=0", "trainer.max_epochs=0: must be -1 or >= 1"),
        # seeds
        ("seed=-1", "seed=-1: must be >= 0"),
        ("pretrain.seed=-2", "pretrain.seed=-2: must be >= 0"),
        # probabilities and shares
        ("synth.min_majority=1.5", "synth.min_majority=1.5: must be in [0, 1]"),
        ("eval.top_p=0", "eval.top_p=0.0: must be in (0, 1]"),
        ("model.lora.dropout=1", "model.lora.dropout=1.0: must be in [0, 1)"),
        # temperatures and other non-negative reals
        ("eval.temperature=-0.5", "eval.temperature=-0.5: must be >= 0"),
        ("answers.rel_tol=-1e-6", "answers.rel_tol=-1e-06: must be >= 0"),
        # positive reals
        ("optim.lr=0", "optim.lr=0.0: must be > 0"),
        ("sampler.timeout_s=nan", "sampler.timeout_s=nan: must be > 0"),
        # a key in each item of a list
        (
            "multitask.stages=[{kind:generator,max_steps:0}]",
            "multitask.stages[0].max_steps=0: must be >= 1",
        ),
    ],
)
def test_a_value_out_of_range_fails_at_start_up_naming_the_key_and_range(override, line):
    with pytest.raises(ConfigError) as error:
        run_task(make_cfg(override))
    assert str(error.value) == line


def test_the_edges_of_ranges_and_null_pass():
    check_values(make_cfg("trainer.max_steps=-1", "eval.n=0", "seed=0", "eval.top_p=1", "eval.max_examples=null"))
    assert 0.5 in Range(low=0, high=1) and 1 not in Range(low=0, high=1, high_open=True)


def test_a_prompt_template_without_the_question_is_refused():
    with pytest.raises(ConfigError, match=r"data\.prompt_template='Answer:': must contain \{question\}"):
        run_task(make_cfg("data.prompt_template=Answer:"))


def test_a_bad_value_on_the_command_line_is_one_line_before_any_work(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "mathlit", "trainer.global_batch_size=0", f"hydra.run.dir={tmp_path / 'run'}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1
    assert result.stderr.splitlines() == ["mathlit: error: trainer.global_batch_size=0: must be >= 1"]
