"""The Policy: one sampler per set of weights, built on first use and only then; pause lets a sleeping engine
sleep; new weights reach a running engine in memory and are probed before it samples again; the sampling
settings of every purpose come from the config."""

import pytest
import torch

import mathlit.sampling.policy
from mathlit.data.formats import Example
from mathlit.errors import ConfigError
from mathlit.sampling import Completion, SamplingParams
from mathlit.sampling.policy import PURPOSES, Policy, check_greedy_copies, sampling_params
from tests.conftest import make_cfg


class Engine:
    can_sleep = True

    def __init__(self, log: list):
        self.log = log
        self.version = None
        log.append("start")

    def generate(self, prompts, params):
        self.log.append("generate")
        return [[Completion("#### 1", 2, "stop")] * params.n for _ in prompts]

    def load_weights(self, state_dict, version, timeout_s):
        self.log.append(f"load {version}")

    def sleep(self):
        self.log.append("sleep")

    def wake_up(self):
        self.log.append("wake_up")

    def close(self):
        self.log.append("close")


@pytest.fixture
def engines(monkeypatch):
    """Every backend the Policy builds is an Engine that logs what is done with it."""
    log: list = []
    monkeypatch.setattr(mathlit.sampling.policy, "make_sampler", lambda *a, **kw: Engine(log))
    return log


def folder_policy(tmp_path, *overrides):
    cfg = make_cfg("sampler=vllm", *overrides)
    return Policy(cfg, None, folder=tmp_path, digest="sha256:w")


def test_one_backend_for_every_use_and_a_pause_sleeps_it(tmp_path, engines):
    policy = folder_policy(tmp_path)
    policy.pause()
    assert engines == []  # nothing built, nothing to pause
    policy.generate(["a"], SamplingParams())
    policy.pause()
    policy.generate(["b"], SamplingParams(n=4, temperature=1.0))
    policy.close()
    assert engines == ["start", "generate", "sleep", "wake_up", "generate", "close"]


@pytest.mark.parametrize(
    ("gpu", "expected"),
    [
        (False, ["start", "generate", "wake_up", "generate"]),  # on CPU it stays
        (True, ["start", "generate", "close", "start", "generate"]),  # on GPU it frees the memory, then is rebuilt
    ],
    ids=["cpu-stays", "gpu-closed-and-rebuilt"],
)
def test_a_backend_that_cannot_sleep(monkeypatch, tmp_path, engines, gpu, expected):
    monkeypatch.setattr("torch.cuda.is_available", lambda: gpu)
    policy = folder_policy(tmp_path)
    policy.generate(["a"], SamplingParams())
    policy._sampler.can_sleep = False
    policy.pause()
    policy.generate(["b"], SamplingParams())
    assert engines == expected


def test_stored_samples_start_nothing_and_new_weights_are_loaded_then_probed(tmp_path, engines, monkeypatch):
    probed = []
    monkeypatch.setattr(
        "mathlit.sampling.sync.check_in_sync", lambda engine, model, tok, prompts, tol: probed.append(prompts) or 0.0
    )
    policy = folder_policy(tmp_path / "w", "answers.extract=strict")
    questions = [Example(f"q{i}", f"question {i}", "", "1", "gsm8k") for i in range(6)]
    first = policy.sample(questions, tmp_path / "out", "greedy")
    assert engines == ["start", "generate"] and probed == []  # an engine started from the folder holds its weights
    assert policy.sample(questions, tmp_path / "out", "greedy") == first and engines == ["start", "generate"]
    policy.load(torch.nn.Linear(1, 1), version=3)  # weights trained in memory: synced, checked before the next sample
    assert engines[-2:] == ["wake_up", "load 3"] and probed == []
    policy.generate(["p1", "p2", "p3", "p4", "p5"], SamplingParams())
    assert probed == [["p1", "p2", "p3", "p4"]] and engines[-1] == "generate"
    policy.generate(["p6"], SamplingParams())
    assert len(probed) == 1  # once per load


def test_each_purpose_reads_its_settings_from_the_config():
    cfg = make_cfg("eval.n=8", "eval.temperature=0.6", "rft.k=5", "rft.max_new_tokens=99", "sampler.max_new_tokens=77")
    assert set(PURPOSES) >= {"greedy", "eval", "rft", "candidates", "rollouts", "create", "verify", "answer"}
    greedy = sampling_params(cfg, "greedy")
    assert (greedy.n, greedy.temperature, greedy.top_p, greedy.max_new_tokens) == (1, 0.0, 1.0, 77)
    sampled = sampling_params(cfg, "eval")
    assert (sampled.n, sampled.temperature, sampled.max_new_tokens) == (8, 0.6, 77)
    rft = sampling_params(cfg, "rft")
    assert (rft.n, rft.max_new_tokens, rft.seed, rft.stop) == (5, 99, cfg.seed, tuple(cfg.sampler.stop))
    with pytest.raises(ValueError, match="unknown sampling purpose 'train'"):
        sampling_params(cfg, "train")


@pytest.mark.parametrize(
    ("overrides", "named"),
    [(["rft.temperature=0"], "rft.k=100 with rft.temperature=0"), (["eval.n=4", "eval.temperature=0"], "eval.n=4")],
)
def test_several_greedy_samples_per_prompt_fail_at_start_up_with_vllm(overrides, named):
    with pytest.raises(ConfigError, match=named):
        check_greedy_copies(make_cfg("sampler=vllm", *overrides))
    check_greedy_copies(make_cfg("sampler=hf", *overrides))  # HF generate draws the copies
    check_greedy_copies(make_cfg("sampler=vllm", *overrides, "rft.k=1", "eval.n=1"))


def test_sampler_vllm_without_vllm_installed_fails_in_one_line_naming_the_fix(monkeypatch, tmp_path, tokenizer):
    import sys

    from mathlit.errors import ConfigError
    from mathlit.sampling import make_sampler
    from tests.conftest import make_cfg

    monkeypatch.setitem(sys.modules, "vllm", None)  # `from vllm import LLM` raises ImportError
    with pytest.raises(ConfigError, match=r"sampler=vllm needs vLLM: pip install .* or use sampler=hf"):
        make_sampler(make_cfg("sampler=vllm").sampler, tokenizer, model_dir=tmp_path)


@pytest.mark.parametrize("backend", ["vllm", "hf"])
def test_a_finished_stage_is_sampled_with_the_backend_asked_for(tmp_path, monkeypatch, backend):
    """A stage's weights are both saved and in memory: sampler=vllm starts the engine from the saved folder (on
    the GPU, in the engine's dtype), never a silent `transformers` generate on the CPU; sampler=hf generates
    with the model in memory."""
    built = []
    monkeypatch.setattr(mathlit.sampling.policy, "make_sampler", lambda cfg, tok, **kw: built.append(kw) or Engine([]))
    model = torch.nn.Linear(1, 1)
    policy = Policy(make_cfg(f"sampler={backend}"), None, folder=tmp_path, model=model, digest="sha256:w")
    policy.generate(["a"], SamplingParams())
    want = {"model_dir": tmp_path, "seed": 42, "per_rank": False} if backend == "vllm" else {"model": model}
    assert built == [want]


def test_a_server_cannot_stand_for_weights_mathlit_holds(tmp_path):
    from mathlit.errors import ConfigError

    cfg = make_cfg("sampler=openai", "sampler.base_url=http://127.0.0.1:9/v1", "sampler.served_model=m")
    with pytest.raises(ConfigError, match="sampler=openai samples the server's model"):
        Policy(cfg, None, folder=tmp_path)
    assert Policy(cfg, None).describe()["sampler"] == "openai"  # the server's own model: fine
    with pytest.raises(ConfigError, match="task=sft samples the weights it trains"):
        from mathlit.startup import check_training

        check_training(cfg)


def test_loading_the_weights_it_holds_again_syncs_nothing(tmp_path, engines):
    policy = folder_policy(tmp_path)
    model = torch.nn.Linear(1, 1)
    policy.generate(["a"], SamplingParams())
    policy.load(model, version=1)
    policy.load(model, version=1)  # a second draw of the same step
    assert engines.count("load 1") == 1
    policy.load(model, version=2)  # the same object trained further
    assert engines.count("load 2") == 1


class Placed(torch.nn.Module):
    """A model on `home` whose moves are recorded instead of made (no GPU here): the Policy's moves, in order."""

    def __init__(self, home: str = "cpu"):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.zeros(1, device=home))
        self.moves: list[str] = []

    def to(self, device):
        self.moves.append(str(device))
        return self

    def cuda(self):
        return self.to("cuda")


def test_a_model_the_hf_policy_moved_to_the_gpu_goes_back_on_close(monkeypatch, tmp_path, engines):
    monkeypatch.setattr("torch.cuda.is_available", lambda: True)
    model = Placed()
    policy = Policy(make_cfg("sampler=hf"), None, folder=tmp_path, model=model, digest="sha256:w")
    policy.generate(["a"], SamplingParams())
    assert model.moves == ["cuda"]  # a finished stage's weights, left on the CPU by the strategy's teardown
    policy.close()
    policy.close()
    assert model.moves == ["cuda", "cpu"]  # back where it came from, once
    policy.generate(["b"], SamplingParams())
    policy.load(Placed(), version=1)  # new weights: the old model goes back before it is let go
    assert model.moves == ["cuda", "cpu", "cuda", "cpu"]


def test_a_model_already_on_the_gpu_stays_there(monkeypatch, tmp_path, engines):
    monkeypatch.setattr("torch.cuda.is_available", lambda: True)
    model = Placed(home="meta")  # stands for a model on the GPU: not on the CPU, so not the Policy's to move
    policy = Policy(make_cfg("sampler=hf"), None, model=model, engine_dir=tmp_path, digest="sha256:w")
    policy.generate(["a"], SamplingParams())
    policy.close()
    assert model.moves == []
