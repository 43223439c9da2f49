"""The procedural arithmetic data: deterministic, disjoint, and every chain of thought is right."""

import re

import pytest
from omegaconf import OmegaConf

from mathlit.data.arith import generate
from mathlit.errors import DataError
from tests.conftest import make_cfg

EQUATION = re.compile(r"(\d+)([-+*/])(\d+)=<<\1\2\3=(\d+)>>\4")
OPS = {"+": lambda a, b: a + b, "-": lambda a, b: a - b, "*": lambda a, b: a * b, "/": lambda a, b: a / b}
ARITH = make_cfg().data.arith  # data=arith's generator settings


def arith(**settings):
    return OmegaConf.merge(ARITH, settings)


@pytest.fixture(scope="module")
def splits():
    return generate(arith(num_train=2000, num_test=300))


def test_sizes_and_determinism(splits):
    train, test = splits
    assert (len(train), len(test)) == (2000, 300)
    assert generate(arith(num_train=2000, num_test=300)) == splits
    assert generate(arith(num_train=2000, num_test=300, seed=7))[0] != train


def test_train_and_test_never_share_a_question_and_test_is_stable(splits):
    train, test = splits
    assert not {e.question for e in train} & {e.question for e in test}
    # The test split does not depend on how many training problems are asked for.
    assert generate(arith(num_train=50, num_test=300))[1] == test


def test_every_step_is_correct_and_the_answer_is_the_last_result(splits):
    for example in splits[0] + splits[1]:
        lines = example.solution.split("\n")
        equations = [EQUATION.search(line) for line in lines[:-1]]
        assert all(equations), example.solution
        for m in equations:
            a, op, b, c = int(m.group(1)), m.group(2), int(m.group(3)), int(m.group(4))
            assert OPS[op](a, b) == c and 0 <= c <= 100
        assert lines[-1] == f"#### {example.answer}" == f"#### {equations[-1].group(4)}"
        assert len(equations) == example.meta["steps"] in (2, 3)


def test_difficulty_knobs(splits):
    easy, _ = generate(arith(num_train=200, num_test=10, min_steps=1, max_steps=1, max_value=9, max_result=30))
    assert all(e.meta["steps"] == 1 for e in easy)
    assert all(int(n) <= 9 for e in easy for n in re.findall(r"\d+", e.question))


def test_impossible_settings_name_the_key():
    with pytest.raises(DataError, match="data.arith.max_value"):
        generate(arith(max_value=2))
    with pytest.raises(DataError, match="data.arith.min_steps"):
        generate(arith(min_steps=3, max_steps=2))
