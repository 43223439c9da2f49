"""Data-parallel sampling in the tasks, on 2 CPU ranks (trainer.strategy=ddp trainer.devices=2, gloo): an RFT
round (and an rft.sources model folder's paths), a verifier's candidates and every training task's test evaluation
sampled by both ranks, each its share, equal one process's samples and metrics.

The stages train one step at a negligible lr, so that both runs sample the same weights: that 2 ranks train
the weights of one process is tests/test_strategies.py's concern. 100 training questions and 100 test problems:
2 shards of 64 each, one per rank."""

import json
import subprocess
import sys

import pytest

from tests.conftest import DATA, MICRO_MODEL, ROOT

pytestmark = pytest.mark.slow
SAMPLING = ["trainer.max_steps=1", "optim.lr=1e-12", "data.max_train_examples=128", "sampler.max_new_tokens=16"]
SAMPLING += ["data.arith.num_test=100", "data.max_test_examples=100"]


def run(run_dir, *overrides) -> str:
    command = [sys.executable, "-m", "mathlit", "debug=fast", *MICRO_MODEL, "trainer.accelerator=cpu", *SAMPLING]
    command += [f"paths.data={DATA}", f"hydra.run.dir={run_dir}", *overrides]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return "".join(log.read_text() for log in sorted(run_dir.glob("*.log")))  # each rank's (Hydra's file logs)


def metrics(run_dir, ignored: tuple[str, ...]) -> dict:
    """metrics.json without what differs between two runs of the same samples: folders, times, the headline's
    figures (its keys stay) and the `ignored` keys."""
    found = json.loads((run_dir / "metrics.json").read_text().replace(str(run_dir), "RUN"))
    found["headline"] = sorted(found["headline"])
    return {k: v for k, v in found.items() if not k.endswith("seconds") and k not in ignored}


@pytest.mark.parametrize(
    ("task", "samples", "ignored"),
    [
        (["task=sft"], ["test/greedy"], ()),
        (
            ["task=rft", "rft.k=2", "rft.max_questions=100", "rft.max_new_tokens=16"],
            ["rft/round1/samples", "sft/test/greedy", "rft1/test/greedy"],
            (),
        ),
        (
            ["task=verifier", "verifier.max_questions=100", "verifier.samples_per_question=2"],
            ["candidates/train", "test/greedy", "test/sampled"],
            (),
        ),
        (["task=multitask"], ["test/sft/sampled", "test/multitask/greedy", "test/sft_control/sampled"], ()),
        # Rollouts are dealt by question to the ranks (tests/test_grpo_task.py): the reward curve is not one process's
        (["task=grpo", "rl.eval_every=1"], ["grpo/evals/00001/sampled", "grpo/test/greedy"], ("reward_curve",)),
    ],
    ids=["sft", "rft", "verifier", "multitask", "grpo"],
)
def test_two_ranks_sample_what_one_process_samples(tmp_path, task, samples, ignored):
    run(tmp_path / "one", *task)
    log = run(tmp_path / "two", *task, "trainer.strategy=ddp", "trainer.devices=2")
    for folder in samples:
        for rank in (0, 1):  # each rank sampled its share
            assert f"{folder}: rank {rank} of 2 samples shards {rank}, {rank}+2, ..." in log
        one = (tmp_path / "one" / folder / "samples.jsonl").read_text()
        assert one.count("\n") >= 100
        assert (tmp_path / "two" / folder / "samples.jsonl").read_text() == one, folder
    assert metrics(tmp_path / "two", ignored) == metrics(tmp_path / "one", ignored)


VLLM = ["sampler=vllm", "sampler.gpu_memory_utilization=0.2", "sampler.max_model_len=256", "model.arch.hidden_size=64"]
RFT = ["task=rft", "rft.k=2", "rft.max_questions=100", "rft.max_new_tokens=16", *VLLM]
ROUND = "rft/round1/samples"


@pytest.mark.vllm
def test_two_ranks_with_an_engine_each_sample_greedy_what_one_process_samples(tmp_path):
    """sampler=vllm on 2 ranks: each rank starts its own engine (vLLM's external_launcher, in its process) with the
    weights it holds, samples its shards of the round and of each stage's test problems, and the merged records are
    one process's (greedy: the weights decide)."""
    greedy = ["rft.temperature=0", "rft.k=1"]  # vLLM refuses n > 1 greedy samples
    run(tmp_path / "one", *RFT, *greedy)
    log = run(tmp_path / "two", *RFT, *greedy, "trainer.strategy=ddp", "trainer.devices=2")
    for rank in (0, 1):
        assert f"rank {rank} of 2 starts its own vLLM engine" in log
        for folder in (ROUND, "sft/test/greedy", "rft1/test/greedy"):  # the round, then each stage's test problems
            assert f"{folder}: rank {rank} of 2 samples shards {rank}, {rank}+2, ..." in log
    assert (tmp_path / "one" / ROUND / "samples.jsonl").read_text().count("\n") == 100
    for folder in (ROUND, "sft/test/greedy", "rft1/test/greedy"):
        one = (tmp_path / "one" / folder / "samples.jsonl").read_text()
        assert (tmp_path / "two" / folder / "samples.jsonl").read_text() == one, folder


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


def test_a_round_from_a_given_sft_model_is_written_once_under_lightnings_launcher(tmp_path, tokenizer, monkeypatch):
    """rft.sft_path with trainer.devices=2 and no torchrun: rank 0 samples the first round alone, before the fit
    that starts rank 1, which re-runs the script and reads that round back: it writes nothing in rft/round1/. The
    stage's test problems are then split over both ranks, and the run ends at one process's samples and metrics."""
    from mathlit.models.build import build_model, save_hf
    from tests.conftest import make_cfg
    from tests.test_torchrun_nodes import record_writes, writes_of

    folder = save_hf(build_model(make_cfg(*MICRO_MODEL).model, tokenizer), tokenizer, tmp_path / "hf")
    rft = ["task=rft", f"rft.sft_path={folder}", "rft.k=2", "rft.max_questions=100", "rft.max_new_tokens=16"]
    run(tmp_path / "one", *rft)
    record_writes(tmp_path, monkeypatch)
    log = run(tmp_path / "two", *rft, "trainer.strategy=ddp", "trainer.devices=2")
    assert writes_of(tmp_path, "1", tmp_path / "two" / "rft" / "round1") == ([], [])
    for rank in (0, 1):
        assert f"rft1/test/greedy: rank {rank} of 2 samples shards {rank}, {rank}+2, ..." in log
    for name in ("rft/round1/samples/samples.jsonl", "rft/round1/augmented.jsonl", "rft1/test/greedy/samples.jsonl"):
        assert (tmp_path / "two" / name).read_text() == (tmp_path / "one" / name).read_text(), name
    assert metrics(tmp_path / "two", ()) == metrics(tmp_path / "one", ())


def test_another_models_folder_in_rft_sources_is_sampled_by_both_ranks(tmp_path, tokenizer):
    """rft.sources=[a model folder]: its paths are sampled by both ranks, each its share, beside the round's own,
    and the pooled round is one process's."""
    from mathlit.models.build import build_model, save_hf
    from tests.conftest import make_cfg

    other = save_hf(build_model(make_cfg(*MICRO_MODEL, "seed=3").model, tokenizer), tokenizer, tmp_path / "other")
    rft = ["task=rft", f"rft.sources=[{other}]", "rft.k=2", "rft.max_questions=100", "rft.max_new_tokens=16"]
    run(tmp_path / "one", *rft)
    log = run(tmp_path / "two", *rft, "trainer.strategy=ddp", "trainer.devices=2")
    for rank in (0, 1):
        assert f"rft/sources/other: rank {rank} of 2 samples shards {rank}, {rank}+2, ..." in log
    sampled = tmp_path / "one" / "rft" / "sources" / "other"
    assert (sampled / "samples.jsonl").read_text().count("\n") == 200  # 100 questions x rft.k
    assert json.loads((sampled / "meta.json").read_text())["source"] == str(other.resolve())
    for name in ("rft/sources/other/samples.jsonl", "rft/round1/augmented.jsonl", "rft/round1/report.json"):
        assert (tmp_path / "two" / name).read_text() == (tmp_path / "one" / name).read_text(), name


def test_sharded_ranks_sample_the_test_problems_with_the_saved_weights(tmp_path):
    """trainer.strategy=fsdp2: no rank but 0 holds the trained weights whole, so the others sample their share of
    the test problems with the stage's hf/ folder, to one process's samples."""
    run(tmp_path / "one", "task=sft")
    log = run(tmp_path / "two", "task=sft", "trainer.strategy=fsdp2", "trainer.devices=2")
    for rank in (0, 1):
        assert f"test/greedy: rank {rank} of 2 samples shards {rank}, {rank}+2, ..." in log
    one = (tmp_path / "one" / "test/greedy/samples.jsonl").read_text()
    assert (tmp_path / "two" / "test/greedy/samples.jsonl").read_text() == one
    assert metrics(tmp_path / "two", ()) == metrics(tmp_path / "one", ())
