"""The weight-sync probe's tolerance follows the dtype the engine computes in (rft.probe_tolerance overrides)."""

import pytest
import torch

from mathlit.models.build import build_model
from mathlit.sampling.sync import check_in_sync, probe_tolerance, reference_logprobs
from mathlit.sampling.vllm import WeightSyncError
from tests.conftest import MICRO_MODEL, make_cfg

PROBES = ["Question: 2 + 3?\nAnswer:\n", "Question: 7 - 4?\nAnswer:\n"]


class Engine:
    """An engine holding the trainer's weights whose log-probs differ by rounding: `gap` on every token."""

    def __init__(self, model, tokenizer, dtype: torch.dtype, gap: float):
        self.dtype, self.version = dtype, 1
        self.logprobs = [[x + gap for x in row] for row in reference_logprobs(model, tokenizer, PROBES)]

    def prompt_logprobs(self, prompts):
        return self.logprobs


def test_a_bf16_engine_passes_the_probe_that_an_fp32_engine_would_fail(tokenizer):
    """The 7B scale's engine computes in bf16: a 1e-3 tolerance raised WeightSyncError at its first sync."""
    torch.manual_seed(0)
    model = build_model(make_cfg(*MICRO_MODEL).model, tokenizer)
    assert make_cfg().rft.probe_tolerance is None  # by the engine's dtype unless set
    assert check_in_sync(Engine(model, tokenizer, torch.bfloat16, 0.02), model, tokenizer, PROBES, None) < 0.05
    with pytest.raises(WeightSyncError, match="tolerance 0.001"):
        check_in_sync(Engine(model, tokenizer, torch.float32, 0.02), model, tokenizer, PROBES, None)
    with pytest.raises(WeightSyncError, match="tolerance 0.01"):  # an explicit rft.probe_tolerance wins
        check_in_sync(Engine(model, tokenizer, torch.bfloat16, 0.02), model, tokenizer, PROBES, 0.01)


def test_tolerances_by_dtype():
    assert probe_tolerance(torch.float32) == 1e-3
    assert probe_tolerance(torch.bfloat16) == probe_tolerance(torch.float16) == 0.05
    assert probe_tolerance(torch.bfloat16, 0.2) == 0.2
