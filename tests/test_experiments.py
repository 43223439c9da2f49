"""Every shipped experiment runs through `run_task` with training, sampling and weights replaced by fakes.

Composition alone checks keys and types; this also runs each task's own code on the experiment's values
(its checks of combinations, data loading, the modules and data modules built from the config), in seconds.
"""

import copy
import json
from pathlib import Path

import pytest
import torch

import mathlit.tasks.grpo
import mathlit.tasks.multitask
import mathlit.tasks.rft
import mathlit.tasks.sft
import mathlit.tasks.synth
import mathlit.tasks.verifier
from mathlit.modules.grpo import RolloutSteps
from mathlit.sampling.base import Completion
from mathlit.sampling.policy import Policy
from mathlit.strategies import build_strategy
from mathlit.tasks import run_task
from mathlit.training import StageResult, resolve_precision
from tests.conftest import ROOT, make_cfg

EXPERIMENTS = sorted(p.stem for p in (ROOT / "conf" / "experiment").glob("*.yaml"))
# Little data, so that the real data loading and batching stay fast; the experiment's own keys are untouched.
CHATML = (
    "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
SMALL_DATA = ["data.max_train_examples=32", "data.val_examples=4", "data.max_test_examples=2", "model.path=/weights"]


@pytest.fixture
def fakes(monkeypatch, tokenizer):
    calls = []
    # The 7B scales shard over GPUs (trainer.strategy=fsdp), refused on CPU; here the strategy is only built.
    for module in ("mathlit.startup", "mathlit.strategies"):
        monkeypatch.setattr(f"{module}.check_strategy", lambda name: None)
    # A data.prompt_format=chat experiment reads the model folder's chat template at start-up: Qwen's ChatML.
    chat = copy.deepcopy(tokenizer)
    chat.chat_template = CHATML
    monkeypatch.setattr("mathlit.startup.load_tokenizer", lambda cfg: chat)

    def fit_stage(cfg, module, data, out_dir, *, callbacks=(), keep_best=None):
        build_strategy(cfg.trainer), resolve_precision(cfg.trainer.precision)
        data.setup("fit")
        batches = data.steps if isinstance(data, RolloutSteps) else len(data.train_set)  # task=grpo: RL steps
        calls.append(("fit", Path(out_dir).name, type(module).__name__, batches))
        return StageResult(Path(out_dir) / "hf", 0, torch.nn.Linear(1, 1))  # rank 0 holds the trained model

    class FakeSampler:
        def generate(self, prompts, params):  # empty replies: task=synth rejects every one as unparseable
            calls.append(("generate", len(prompts), params.n, params.temperature))
            return [[Completion("", 0, "stop")] * params.n for _ in prompts]

        def wake_up(self):  # the experiments sample with sampler=vllm: new weights are loaded into the engine
            pass

        def load_weights(self, state_dict, version, timeout_s):
            pass

        def close(self):
            pass

    def policy(cfg, tokenizer, **kwargs):
        return Policy(cfg, tokenizer, sampler=FakeSampler(), digest="sha256:fake")

    def candidates(cfg, generator, splits, out_dir):
        n = cfg.verifier.samples_per_question
        calls.append(("candidates", Path(out_dir).parent.name, n, cfg.verifier.temperature))
        records = [
            {"id": e.id, "sample_idx": j, "question": e.question, "completion": f"path {j}", "correct": j % 2 == 0}
            for e in splits.train
            for j in range(n)
        ]
        return records, [r for r in records if r["sample_idx"] < 2]

    def evaluate(cfg, policy, examples, out_dir, *, greedy=True, n=0, rerank=None, part=(0, 1)):
        calls.append(("evaluate", Path(out_dir).name, n, rerank is not None))
        at_n = {f"{name}@{n}": 0.0 for name in ("best_of", "weighted", "cluster")}
        summary = {"n": n, **at_n, "ci95": dict.fromkeys(at_n, [0.0, 0.0])} if rerank is not None else None
        return {"greedy_accuracy": 0.0, "problems": len(examples), **({"rerank": summary} if summary else {})}

    replacements = {
        "load_tokenizer": lambda cfg: tokenizer,
        "build_model": lambda cfg, tokenizer: None,
        "fit_stage": fit_stage,
        "Policy": policy,
        "generator_policy": policy,
        "candidates": candidates,
        "evaluate": evaluate,
        "sample_test": lambda cfg, policy, examples, out_dir, **passes: None,  # evaluate's samples: faked there
        "table": lambda metrics: "",
        "save_verifier": lambda module, folder: folder,
        "save_verifier_spec": lambda cfg, folder: None,
    }
    monkeypatch.setattr("mathlit.datagen.rft.Policy", policy)  # the RFT generator's, following the weights
    tasks = (
        mathlit.tasks.sft,
        mathlit.tasks.rft,
        mathlit.tasks.verifier,
        mathlit.tasks.multitask,
        mathlit.tasks.synth,
        mathlit.tasks.grpo,
    )
    for module in tasks:
        for name, fake in replacements.items():
            if hasattr(module, name):
                monkeypatch.setattr(module, name, fake)
    return calls


@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_every_experiment_runs_through_its_task(experiment, fakes, tmp_path):
    synth = make_cfg(f"experiment={experiment}").task.name == "synth"  # a server generates: no weights to load
    small = [o for o in SMALL_DATA if not (synth and o.startswith("model.path="))]
    cfg = make_cfg(f"experiment={experiment}", *small, run_dir=tmp_path)
    run_task(cfg)
    if cfg.task.name == "synth":  # no training: the generator's calls and the report
        report = json.loads((tmp_path / "synth_report.json").read_text())
        assert report["rejected"]["unparseable"] == report["seeds"] * cfg.synth.per_seed > 0
        assert ("generate", report["seeds"], cfg.synth.per_seed, cfg.synth.temperature) in fakes
        return
    fits = [c for c in fakes if c[0] == "fit"]
    assert fits and all(train_batches > 0 for *_, train_batches in fits)
    headline = json.loads((tmp_path / "metrics.json").read_text())["headline"]
    assert headline["task"] == cfg.task.name and headline["model"]["path"] == "/weights"
    assert headline["accuracy"]["greedy_accuracy"] == 0.0 and headline["data"]["train"] > 0
    if cfg.task.name == "grpo":  # one RL stage of rl.max_steps batches, no SFT stage first (model.path is set)
        assert [c[1:] for c in fits] == [("grpo", "GRPOModule", cfg.rl.max_steps)]
    if cfg.task.name == "multitask":
        control = ["GeneratorSFT"] if cfg.multitask.sft_control else []
        assert [c[2] for c in fits] == ["GeneratorSFT", "VerifierModule", "GeneratorSFT", *control]
        assert ("evaluate", "multitask", cfg.eval.n, True) in fakes


def test_the_walk_finds_the_shipped_experiments():
    shipped = {"sft_gsm8k_llama2_7b", "rft_gsm8k_llama2_7b", "multitask_math_llama2_7b"}
    assert shipped | {"simplerl_zoo_math_qwen2_5_0_5b", "dapo_math_qwen2_5_1_5b"} <= set(EXPERIMENTS)
