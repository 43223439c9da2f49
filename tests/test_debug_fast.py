"""debug=fast caps every stage of every task and every sampling step: a new user's first try of any task takes
seconds, not the toy scale's 600 verifier steps over 1,000 questions x 8 candidates."""

import pytest

from mathlit.config import Task
from mathlit.sampling.policy import PURPOSES, sampling_params
from mathlit.training import stage_steps
from tests.conftest import make_cfg


@pytest.mark.parametrize("task", [t.value for t in Task])
def test_debug_fast_caps_every_stage_and_every_sampling_step(task):
    cfg = make_cfg(f"task={task}", "debug=fast")
    budget = cfg.trainer.max_steps
    assert 0 < budget <= 4
    assert stage_steps(cfg, "generator") == stage_steps(cfg, "verifier") == budget
    for stage in cfg.multitask.stages:
        assert stage_steps(cfg, stage.kind, stage.max_steps) <= budget
    for purpose in PURPOSES:
        params = sampling_params(cfg, purpose)
        assert params.n <= 4 and params.max_new_tokens <= 32, purpose
    questions = [cfg.rft.max_questions, cfg.verifier.max_questions, cfg.synth.seeds, cfg.data.max_test_examples]
    assert all(q is not None and q <= 16 for q in questions)
    assert cfg.data.max_train_examples <= 64 and cfg.pretrain.num_documents <= 200


def test_without_debug_the_toy_verifier_keeps_its_own_budget():
    cfg = make_cfg("task=verifier")
    assert stage_steps(cfg, "verifier") == cfg.verifier.max_steps == 600 != cfg.trainer.max_steps
    assert stage_steps(cfg, "verifier", own=7) == 7
