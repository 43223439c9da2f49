"""Data-parallel sampling: ranks of one run (CPU processes, gloo) split a pass's shards, wait for one another
and all return what one process samples (HF generate on a micro LLaMA); a rank killed with SIGKILL mid-pass
leaves its finished shards, and a rerun samples only what is missing, to the same records."""

import json
import multiprocessing
import os
import signal
import socket

import pytest

import mathlit.sampling.records
from mathlit.data.formats import Example
from mathlit.errors import ConfigError
from mathlit.sampling.ranks import ALONE, Ranks, check_engine_fits
from tests.conftest import MICRO_MODEL, make_cfg

EXAMPLES = [Example(f"q{i}", f"What is {i}+{i}?", f"#### {2 * i}", str(2 * i), "gsm8k") for i in range(10)]
SHARD_SIZE = 3  # 10 questions: 4 shards
OVERRIDES = ("sampler=hf", "sampler.max_new_tokens=8", "eval.n=2", "eval.temperature=1.0")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sample_as_rank(rank, world, port, folder, out_dir, count, die_on_shard, result, timeout_s):
    """One rank: a gloo group of `world`, the Policy of `folder` sampling eval.n per question together with the others;
    writes its records and the shards it sampled to `result`. `die_on_shard`: SIGKILL itself on that shard."""
    import torch
    import torch.distributed as dist

    from mathlit.models.build import load_tokenizer
    from mathlit.sampling.policy import Policy

    torch.set_num_threads(1)
    mathlit.sampling.records.SHARD_SIZE = SHARD_SIZE
    if world > 1:
        dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world)
    cfg = make_cfg(*MICRO_MODEL, *OVERRIDES, f"trainer.collective_timeout_s={timeout_s}")
    policy = Policy(cfg, load_tokenizer(cfg.model), folder=folder)
    sampled, generate = [], policy.generate

    def logged(prompts, params):
        shard = params.seed - cfg.seed * 100_003
        if shard == die_on_shard:
            os.kill(os.getpid(), signal.SIGKILL)
        sampled.append(shard)
        return generate(prompts, params)

    policy.generate = logged
    records = policy.sample(EXAMPLES[:count], out_dir, "eval", together=True)
    with open(result, "w") as f:
        json.dump({"records": records, "sampled": sampled}, f)


def run_ranks(tmp_path, folder, out_dir, world=2, count=10, die=(None, None), timeout_s=60):
    """Run `world` ranks to the end; each rank's (exit code, result or None)."""
    spawn = multiprocessing.get_context("spawn")
    port, results = free_port(), [tmp_path / f"rank{r}-{out_dir.name}.json" for r in range(world)]
    for path in results:
        path.unlink(missing_ok=True)
    args = [(r, world, port, folder, out_dir, count, die[r], results[r], timeout_s) for r in range(world)]
    ranks = [spawn.Process(target=sample_as_rank, args=a) for a in args]
    for p in ranks:
        p.start()
    for p in ranks:
        p.join(timeout=240)
    codes = [p.exitcode for p in ranks]
    assert None not in codes, "a rank hangs"
    read = [json.loads(path.read_text()) if path.exists() else None for path in results]
    return list(zip(codes, read, strict=True))


@pytest.fixture(scope="module")
def folder(tmp_path_factory, tokenizer):
    from mathlit.models.build import build_model, save_hf

    out = tmp_path_factory.mktemp("micro")
    return save_hf(build_model(make_cfg(*MICRO_MODEL).model, tokenizer), tokenizer, out / "hf")


def test_each_rank_takes_every_world_th_shard_of_its_job():
    assert [Ranks(r, 2).mine((0, 1)) for r in range(2)] == [(0, 2), (1, 2)]
    # job 1 of an array of 2 (eval.shard=1/2), 2 ranks each: shards 1, 5, 9, ... and 3, 7, 11, ...
    assert [Ranks(r, 2).mine((1, 2)) for r in range(2)] == [(1, 4), (3, 4)]
    assert ALONE.mine((1, 2)) == (1, 2)


def test_the_ranks_of_one_engine_sample_the_same_shards_and_its_first_rank_writes_them():
    # sampler.tensor_parallel_size=2 on 4 ranks: engines {0, 1} and {2, 3} take every other shard
    assert [Ranks(r, 4, engine=2).mine((0, 1)) for r in range(4)] == [(0, 2), (0, 2), (1, 2), (1, 2)]
    assert [Ranks(r, 4, engine=2).writes for r in range(4)] == [True, False, True, False]


def test_a_rank_that_does_not_write_samples_its_shards_and_leaves_the_folder_alone(tmp_path):
    from mathlit.answers.grading import Grading
    from mathlit.sampling.base import Completion, SamplingParams
    from mathlit.sampling.records import _sample_shards

    class Echo:
        def generate(self, prompts, params):
            return [[Completion(f"#### {params.seed}", 2, "stop")] for _ in prompts]

    job = dict(template="{question}", params=SamplingParams(), grading=Grading.from_config(make_cfg()), shard_size=4)
    rows = _sample_shards(Echo(), EXAMPLES[:4], tmp_path, part=(0, 1), any_bad=False, write=False, **job)
    assert [r["id"] for r in rows] == ["q0", "q1", "q2", "q3"] and not (tmp_path / "shards").exists()


@pytest.mark.parametrize(("size", "gpus"), [(1, 0), (8, 8)])
def test_an_engine_that_fits_the_node_passes(size, gpus):
    check_engine_fits(make_cfg("sampler=vllm", f"sampler.tensor_parallel_size={size}"), gpus)


def test_an_engine_wider_than_the_node_fails_at_start_up_in_one_line(monkeypatch):
    import torch

    import mathlit.tasks.eval
    from mathlit.startup import start

    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    cfg = make_cfg("task=eval", "sampler=vllm", "sampler.tensor_parallel_size=8")
    with pytest.raises(ConfigError, match=r"^sampler.tensor_parallel_size=8: .* this node has 2; lower it"):
        start(cfg, mathlit.tasks.eval)


def test_an_engine_that_does_not_divide_a_nodes_ranks_fails_in_one_line():
    cfg = make_cfg("sampler=vllm", "sampler.tensor_parallel_size=2", "trainer.devices=3", "trainer.strategy=ddp")
    with pytest.raises(ConfigError, match=r"^sampler.tensor_parallel_size=2: .* a node runs 3 .* divisor of 3$"):
        check_engine_fits(cfg, 4)
    check_engine_fits(make_cfg("sampler=vllm", "sampler.tensor_parallel_size=2", "trainer.devices=4"), 4)


def test_two_ranks_sample_what_one_process_samples(tmp_path, folder):
    one = run_ranks(tmp_path, folder, tmp_path / "one", world=1)
    two = run_ranks(tmp_path, folder, tmp_path / "two", world=2)
    (code, alone), *ranks = one + two
    assert code == 0 and [code for code, _ in ranks] == [0, 0]
    assert alone["sampled"] == [0, 1, 2, 3]
    assert [r["sampled"] for _, r in ranks] == [[0, 2], [1, 3]]  # each shard written once, by its rank
    assert len(alone["records"]) == 10 * 2  # eval.n=2
    assert all(r["records"] == alone["records"] for _, r in ranks)
    assert (tmp_path / "two" / "samples.jsonl").read_text() == (tmp_path / "one" / "samples.jsonl").read_text()


def test_fewer_questions_than_ranks(tmp_path, folder):
    (c0, r0), (c1, r1) = run_ranks(tmp_path, folder, tmp_path / "few", count=1)
    assert (c0, c1) == (0, 0)
    assert r0["sampled"] == [0] and r1["sampled"] == []
    assert r0["records"] == r1["records"] and len(r0["records"]) == 2


def test_a_rank_killed_mid_pass_then_a_rerun_samples_the_same(tmp_path, folder):
    """Rank 1 is killed (SIGKILL) on its second shard, after writing its first: rank 0 fails at the wait, never
    hangs; a rerun samples only rank 1's missing shard, and every rank returns one process's records."""
    ((_, alone),) = run_ranks(tmp_path, folder, tmp_path / "one", world=1)
    (c0, _), (c1, _) = run_ranks(tmp_path, folder, tmp_path / "two", die=(None, 3), timeout_s=30)
    assert c0 != 0 and c1 == -signal.SIGKILL
    shards = sorted(p.name for p in (tmp_path / "two" / "shards").glob("0*.jsonl"))
    assert shards == ["00000.jsonl", "00001.jsonl", "00002.jsonl"]
    (c0, r0), (c1, r1) = run_ranks(tmp_path, folder, tmp_path / "two")
    assert (c0, c1) == (0, 0)
    assert r0["sampled"] == [] and r1["sampled"] == [3]
    assert r0["records"] == r1["records"] == alone["records"]
