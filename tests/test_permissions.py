"""Outputs are readable as the umask allows (0644 under 022): temporaries renamed into place are not 0600."""

import os
import stat

import pytest

from mathlit.io import atomic_write_text
from mathlit.models.build import build_model, save_hf
from tests.conftest import MICRO_MODEL, make_cfg


@pytest.fixture(params=[0o022, 0o027])
def umask(request):
    old = os.umask(request.param)
    yield request.param
    os.umask(old)


def mode(path):
    return stat.S_IMODE(path.stat().st_mode)


def test_atomic_writes_and_saved_models_follow_the_umask(tmp_path, tokenizer, umask):
    atomic_write_text(tmp_path / "metrics.json", "{}")
    save_hf(build_model(make_cfg(*MICRO_MODEL).model, tokenizer), tokenizer, tmp_path / "hf")
    files = [tmp_path / "metrics.json", *(tmp_path / "hf").iterdir()]
    assert tmp_path / "hf" / "model.safetensors" in files
    assert {p.name: mode(p) for p in files} == {p.name: 0o666 & ~umask for p in files}
