"""A truncated or garbled model.safetensors is one line naming the file, before anything loads it."""

import pytest
import torch

from mathlit.errors import ConfigError
from mathlit.models.build import build_model, save_hf
from mathlit.models.integrity import safetensors_problem
from mathlit.tasks import run_task
from tests.conftest import MICRO_MODEL, make_cfg


@pytest.fixture
def weights(tmp_path, tokenizer):
    torch.manual_seed(0)
    folder = save_hf(build_model(make_cfg(*MICRO_MODEL).model, tokenizer), tokenizer, tmp_path / "model")
    return folder / "model.safetensors"


def test_a_saved_model_is_whole(weights):
    assert safetensors_problem(weights) is None


@pytest.mark.parametrize(
    ("spoil", "why"),
    [
        (lambda data: data[: len(data) // 2], "truncated ({half} of {size} bytes)"),
        (lambda data: data + b"\0" * 10, "longer than its tensors ({longer} of {size} bytes)"),
        (lambda data: data[:4], "truncated (4 bytes, not even a header)"),
        (lambda data: data[:8] + b"x" * (len(data) - 8), "not a safetensors file (its header is not valid)"),
    ],
    ids=["half", "appended", "header", "garbage"],
)
def test_a_spoiled_weights_file_is_one_line_at_start_up(weights, spoil, why):
    data = weights.read_bytes()
    weights.write_bytes(spoil(data))
    expected = why.format(half=len(data) // 2, size=len(data), longer=len(data) + 10)
    with pytest.raises(ConfigError) as refused:
        run_task(make_cfg("task=eval", "debug=fast", f"model.path={weights.parent}", run_dir=weights.parent.parent))
    assert str(refused.value) == f"{weights}: {expected}; the weights in this folder are incomplete (set by model.path)"
