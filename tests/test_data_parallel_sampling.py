"""Data-parallel sampling in the tasks, on 2 CPU ranks (trainer.strategy=ddp trainer.devices=2, gloo): an RFT
round and a verifier's candidates sampled by both ranks, each its share, equal one process's samples.

The stages train one step at a negligible lr, so that both runs sample the same weights: that 2 ranks train
the weights of one process is tests/test_strategies.py's concern. 100 training questions: 2 shards of 64."""

import json
import subprocess
import sys

import pytest

from tests.conftest import DATA, MICRO_MODEL, ROOT

pytestmark = pytest.mark.slow
SAMPLING = ["trainer.max_steps=1", "optim.lr=1e-12", "data.max_train_examples=128", "sampler.max_new_tokens=16"]


def run(run_dir, *overrides) -> str:
    command = [sys.executable, "-m", "mathlit", "debug=fast", *MICRO_MODEL, "trainer.accelerator=cpu", *SAMPLING]
    command += [f"paths.data={DATA}", f"hydra.run.dir={run_dir}", *overrides]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return "".join(log.read_text() for log in sorted(run_dir.glob("*.log")))  # each rank's (Hydra's file logs)


@pytest.mark.parametrize(
    ("task", "samples"),
    [
        (["task=rft", "rft.k=2", "rft.max_questions=100", "rft.max_new_tokens=16"], "rft/round1/samples"),
        (["task=verifier", "verifier.max_questions=100", "verifier.samples_per_question=2"], "candidates/train"),
    ],
)
def test_two_ranks_sample_what_one_process_samples(tmp_path, task, samples):
    run(tmp_path / "one", *task)
    log = run(tmp_path / "two", *task, "trainer.strategy=ddp", "trainer.devices=2")
    for rank in (0, 1):  # each rank sampled its share
        assert f"{samples}: rank {rank} of 2 samples shards {rank}, {rank}+2, ..." in log
    one = (tmp_path / "one" / samples / "samples.jsonl").read_text()
    assert one.count("\n") == 200
    assert (tmp_path / "two" / samples / "samples.jsonl").read_text() == one


VLLM = ["sampler=vllm", "sampler.gpu_memory_utilization=0.2", "sampler.max_model_len=256", "model.arch.hidden_size=64"]
RFT = ["task=rft", "rft.k=2", "rft.max_questions=100", "rft.max_new_tokens=16", *VLLM]
ROUND = "rft/round1/samples"


@pytest.mark.vllm
def test_two_ranks_with_an_engine_each_sample_greedy_what_one_process_samples(tmp_path):
    """sampler=vllm on 2 ranks: each rank starts its own engine (vLLM's external_launcher, in its process) with the
    weights it holds, samples its shards, and the merged records are one process's (greedy: the weights decide)."""
    greedy = ["rft.temperature=0", "rft.k=1"]  # vLLM refuses n > 1 greedy samples
    run(tmp_path / "one", *RFT, *greedy)
    log = run(tmp_path / "two", *RFT, *greedy, "trainer.strategy=ddp", "trainer.devices=2")
    for rank in (0, 1):
        assert f"{ROUND}: rank {rank} of 2 samples shards {rank}, {rank}+2, ..." in log
        assert f"rank {rank} of 2 starts its own vLLM engine" in log
    one = (tmp_path / "one" / ROUND / "samples.jsonl").read_text()
    assert one.count("\n") == 100
    assert (tmp_path / "two" / ROUND / "samples.jsonl").read_text() == one


@pytest.mark.vllm
def test_each_ranks_engine_samples_a_shard_from_its_seed_alone(tmp_path):
    """Sampled (temperature 1) on 2 ranks, twice: the same records, since each call reseeds the engine's RNG with
    its shard's seed. (One process's engine on CPU runs its core in a child process that batches requests as they
    arrive, so its sampled draws vary from run to run and are not compared here; on GPU each request is seeded.)"""
    for again in ("a", "b"):
        run(tmp_path / again, *RFT, "trainer.strategy=ddp", "trainer.devices=2")
    rows = (tmp_path / "a" / ROUND / "samples.jsonl").read_text()
    completions = [json.loads(row)["completion"] for row in rows.splitlines()]
    assert len(completions) == 200 and len(set(completions)) > 150  # sampled: not one path per question
    assert (tmp_path / "b" / ROUND / "samples.jsonl").read_text() == rows


@pytest.mark.vllm
def test_grpo_ranks_each_sync_the_weights_they_train_into_their_own_engine(tmp_path):
    log = run(tmp_path, "task=grpo", *VLLM, "rl.questions_per_step=4", "trainer=ddp", "trainer.devices=2")
    for rank in (0, 1):
        assert f"rank {rank} of 2 starts its own vLLM engine" in log
        assert (tmp_path / "rollouts" / "00001" / f"rank{rank}" / "draw0" / "samples.jsonl").exists()
    assert log.count("vLLM engine holds weights version step1") == 2  # each engine took step 1's weights, probed
