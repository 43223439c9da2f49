"""What the vLLM engine is started with, checked without starting one: its memory share beside the trainer,
and the vLLM release (the weight sync's in-place reload must exist)."""

import pytest

from mathlit.errors import ConfigError
from mathlit.sampling.vllm import engine_memory_share

GiB = 2**30


def test_the_engine_takes_what_is_free_beside_the_trainer_not_a_fixed_share():
    """vLLM raises at start unless gpu_memory_utilization x total is free: the trainer's leftovers count."""
    assert engine_memory_share(0.85, free=79 * GiB, total=80 * GiB) == 0.85  # an idle GPU: as asked
    assert engine_memory_share(0.85, free=60 * GiB, total=80 * GiB) == pytest.approx(58 / 80)
    with pytest.raises(ConfigError, match="only 2.5 GiB of 80.0 GiB GPU memory is free"):
        engine_memory_share(0.85, free=int(2.5 * GiB), total=80 * GiB)


def test_an_engine_without_the_in_place_reload_is_refused_at_start(monkeypatch):
    """Older vLLM releases lack the module the worker imports: fail in one line at start, not at the first sync."""
    pytest.importorskip("vllm")
    import importlib

    from mathlit.sampling import vllm as backend

    real = importlib.import_module

    def import_module(name):
        if name == backend.RELOAD_MODULE:
            raise ModuleNotFoundError(name)
        return real(name)

    monkeypatch.setattr(importlib, "import_module", import_module)
    with pytest.raises(ConfigError, match=r"has no vllm.model_executor.model_loader.reload.inplace.*vllm>=0.32,<0.33"):
        backend.check_vllm_version()
