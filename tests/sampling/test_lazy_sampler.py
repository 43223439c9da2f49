"""LazySampler: builds its backend on first use, once; pause lets a sleeping engine sleep and wakes it on use."""

import pytest

from mathlit.sampling import LazySampler, SamplingParams


class Engine:
    can_sleep = True

    def __init__(self, log: list):
        self.log = log
        log.append("start")

    def generate(self, prompts, params):
        self.log.append("generate")
        return [[] for _ in prompts]

    def sleep(self):
        self.log.append("sleep")

    def wake_up(self):
        self.log.append("wake_up")

    def close(self):
        self.log.append("close")


def test_one_backend_for_every_use_and_a_pause_sleeps_it():
    log: list = []
    sampler = LazySampler(lambda: Engine(log))
    sampler.pause()
    assert log == []  # nothing built, nothing to pause
    sampler.generate(["a"], SamplingParams())
    sampler.pause()
    sampler.generate(["b"], SamplingParams(n=4, temperature=1.0))
    sampler.close()
    assert log == ["start", "generate", "sleep", "wake_up", "generate", "close"]


@pytest.mark.parametrize(
    ("gpu", "expected"),
    [
        (False, ["start", "generate", "wake_up", "generate"]),  # on CPU it stays
        (True, ["start", "generate", "close", "start", "generate"]),  # on GPU it frees the memory, then is rebuilt
    ],
    ids=["cpu-stays", "gpu-closed-and-rebuilt"],
)
def test_a_backend_that_cannot_sleep(monkeypatch, gpu, expected):
    monkeypatch.setattr("torch.cuda.is_available", lambda: gpu)
    log: list = []
    sampler = LazySampler(lambda: Engine(log))
    sampler.generate(["a"], SamplingParams())
    sampler._sampler.can_sleep = False
    sampler.pause()
    sampler.generate(["b"], SamplingParams())
    assert log == expected


def test_sampler_vllm_without_vllm_installed_fails_in_one_line_naming_the_fix(monkeypatch, tmp_path, tokenizer):
    import sys

    from mathlit.errors import ConfigError
    from mathlit.sampling import make_sampler
    from tests.conftest import make_cfg

    monkeypatch.setitem(sys.modules, "vllm", None)  # `from vllm import LLM` raises ImportError
    with pytest.raises(ConfigError, match=r"sampler=vllm needs vLLM: pip install .* or use sampler=hf"):
        make_sampler(make_cfg("sampler=vllm").sampler, tokenizer, model_dir=tmp_path)
