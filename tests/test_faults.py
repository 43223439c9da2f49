"""Fault injection on the tiny model, as a demanding user would do it by hand: kill -9 during training and during
evaluation, then rerun; a second run in a held folder; other weights swapped into an evaluated folder.

`python -m mathlit` is killed at a deterministic point: a bootstrap (test code only) wraps the function that
finishes a checkpoint or a shard so that, at the chosen one, it touches a file and waits; the test kills the
process once that file appears. Reruns and the uninterrupted references run in this process (same code path).
"""

import csv
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from mathlit.errors import StorageError
from mathlit.io import umask
from mathlit.models.build import build_model, save_hf
from mathlit.tasks import run_task
from tests.conftest import DATA, MICRO_MODEL, ROOT, make_cfg

HANG = """
import pathlib, runpy, sys, time
import {module} as target
owner = target if {cls!r} is None else getattr(target, {cls!r})
original = getattr(owner, {name!r})
def hang_after(*args, **kwargs):
    result = original(*args, **kwargs)
    if {condition}:
        pathlib.Path({mark!r}).touch()
        time.sleep(600)
    return result
setattr(owner, {name!r}, hang_after)
{setup}
sys.argv = ["mathlit", *{args!r}]
runpy.run_module("mathlit", run_name="__main__")
"""


def start_hanging(run_dir: Path, overrides: list[str], *, module, cls, name, condition, setup="") -> subprocess.Popen:
    """`python -m mathlit` in run_dir, stopped where `condition` holds after `module.cls.name` returns."""
    mark = run_dir.parent / f"{run_dir.name}.hanging"
    args = [f"paths.data={DATA}", *overrides, f"hydra.run.dir={run_dir}"]
    code = HANG.format(module=module, cls=cls, name=name, condition=condition, mark=str(mark), setup=setup, args=args)
    process = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stderr=subprocess.PIPE, text=True)
    while not mark.exists():
        if process.poll() is not None:
            raise AssertionError(f"the run ended before its kill point:\n{process.stderr.read()[-3000:]}")
        time.sleep(0.05)
    return process


def start_hanging_at_second_shard(
    run_dir: Path, overrides: list[str], folder: str, shard_size: int
) -> subprocess.Popen:
    """`python -m mathlit` with shards of `shard_size` problems, stopped once the second shard of the sampling
    pass in `folder` (eval's `sampled`, RFT's `samples`) is written."""
    return start_hanging(
        run_dir,
        overrides,
        module="mathlit.sampling.records",
        cls=None,
        name="write_jsonl",
        condition=f"args[0].name == '00001.jsonl' and args[0].parent.parent.name == {folder!r}",
        setup=f"import mathlit.sampling.records as records; records.SHARD_SIZE = {shard_size}",
    )


def kill9(process: subprocess.Popen) -> None:
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    process.stderr.close()


TRAIN = [
    "debug=fast",
    *MICRO_MODEL,
    "trainer.max_steps=8",
    "trainer.checkpoint_every_n_steps=2",
    "trainer.val_every_n_steps=null",
    "data.max_train_examples=24",
    "data.max_test_examples=4",
]


def losses(run_dir: Path) -> dict[int, str]:
    """train/loss by step over every (re)start's log, as written (exact decimal strings)."""
    rows = {}
    for log in sorted(run_dir.glob("logs/version_*/metrics.csv")):
        rows |= {int(r["step"]): r["train/loss"] for r in csv.DictReader(log.open()) if r["train/loss"]}
    return rows


@pytest.mark.slow  # a subprocess start and two in-process runs
def test_kill_9_after_a_checkpoint_then_rerun_ends_with_the_uninterrupted_weights_and_losses(tmp_path):
    run_task(make_cfg(*TRAIN, run_dir=tmp_path / "whole"))
    killed = tmp_path / "killed"
    process = start_hanging(
        killed,
        TRAIN,
        module="lightning.pytorch.callbacks",
        cls="ModelCheckpoint",
        name="_save_checkpoint",
        condition="args[1].global_step == 4",
    )
    kill9(process)
    assert (killed / "checkpoints" / "last.ckpt").exists() and not (killed / "hf").exists()
    assert (killed / ".mathlit.lock").exists()  # left by the killed run: the rerun must take it over
    run_task(make_cfg(*TRAIN, run_dir=killed))
    whole, resumed = (
        load_file(tmp_path / "whole" / "hf" / "model.safetensors"),
        load_file(killed / "hf" / "model.safetensors"),
    )
    assert whole.keys() == resumed.keys()
    for name in whole:
        torch.testing.assert_close(whole[name], resumed[name], rtol=0, atol=0, msg=name)
    after_resume = {step: loss for step, loss in losses(killed).items() if step >= 4}
    assert len(after_resume) == 4 and after_resume.items() <= losses(tmp_path / "whole").items()
    assert (
        json.loads((killed / "metrics.json").read_text())["greedy_accuracy"]
        == json.loads((tmp_path / "whole" / "metrics.json").read_text())["greedy_accuracy"]
    )


def micro_folder(tokenizer, folder: Path, seed: int) -> Path:
    torch.manual_seed(seed)
    return save_hf(build_model(make_cfg(*MICRO_MODEL).model, tokenizer), tokenizer, folder)


EVAL = ["task=eval", "debug=fast", "eval.n=2", "eval.max_examples=6"]


def pairs(run_dir: Path, kind: str) -> list[tuple[str, int]]:
    lines = (run_dir / kind / "samples.jsonl").read_text().splitlines()
    return [(r["id"], r["sample_idx"]) for r in map(json.loads, lines)]


@pytest.mark.slow  # a subprocess start and two in-process runs
def test_kill_9_during_eval_sampling_refuses_a_second_run_then_resumes_to_the_same_metrics(
    tmp_path, tokenizer, monkeypatch
):
    model = micro_folder(tokenizer, tmp_path / "model", seed=0)
    overrides = [*EVAL, f"model.path={model}"]
    monkeypatch.setattr("mathlit.sampling.records.SHARD_SIZE", 2)  # 3 shards, each with its own seed
    run_task(make_cfg(*overrides, run_dir=tmp_path / "whole"))

    run = tmp_path / "killed"
    first = start_hanging_at_second_shard(run, overrides, "sampled", shard_size=2)
    hydra_config = (run / ".hydra" / "config.yaml").read_text()
    second = subprocess.run(
        [sys.executable, "-m", "mathlit", f"paths.data={DATA}", *overrides, "seed=7", f"hydra.run.dir={run}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert second.returncode == 1
    refusal = f"mathlit: error: {run} is in use by another run (pid {first.pid} on {socket.gethostname()}, started "
    [line] = second.stderr.splitlines()  # one line, no traceback
    assert line.startswith(refusal) and line.endswith("choose another folder (hydra.run.dir)")
    assert (run / ".hydra" / "config.yaml").read_text() == hydra_config  # the second run's seed=7 record undone
    assert sorted(p.name for p in (run / "sampled" / "shards").glob("0*.jsonl")) == ["00000.jsonl", "00001.jsonl"]
    kill9(first)

    run_task(make_cfg(*overrides, run_dir=run))
    for kind in ("greedy", "sampled"):
        assert pairs(run, kind) == pairs(tmp_path / "whole", kind)  # none missing, none twice, in order
    assert json.loads((run / "metrics.json").read_text()) == json.loads(
        (tmp_path / "whole" / "metrics.json").read_text()
    )
    readable = 0o666 & ~umask()  # 0644 under umask 022: teammates can read every output
    modes = {p.relative_to(run): p.stat().st_mode & 0o777 for p in run.rglob("*") if p.is_file()}
    assert {path: oct(mode) for path, mode in modes.items() if mode != readable} == {}


def test_other_weights_swapped_into_an_evaluated_folder_are_sampled_again(tmp_path, tokenizer):
    model = tmp_path / "model"
    run = tmp_path / "eval"

    def evaluate(folder: Path, run_dir: Path) -> list[str]:
        run_task(make_cfg(*EVAL, f"model.path={folder}", run_dir=run_dir))
        return (run_dir / "sampled" / "samples.jsonl").read_text().splitlines()

    before = evaluate(micro_folder(tokenizer, model, seed=0), run)
    after = evaluate(micro_folder(tokenizer, model, seed=1), run)  # a later training run wrote its weights there
    fresh = evaluate(micro_folder(tokenizer, tmp_path / "other", seed=1), tmp_path / "fresh")
    assert after == fresh != before

    def measured(run_dir: Path) -> dict:  # the headline names the model folder, which differs here by design
        return {k: v for k, v in json.loads((run_dir / "metrics.json").read_text()).items() if k != "headline"}

    assert measured(run) == measured(tmp_path / "fresh")


RFT = [
    "task=rft",
    "debug=fast",
    *MICRO_MODEL,
    "rft.k=2",
    "rft.max_new_tokens=48",
    "rft.max_questions=48",
    "data.max_train_examples=48",
]


@pytest.mark.slow  # a subprocess start and two in-process runs
def test_kill_9_during_rft_sampling_then_rerun_gives_the_uninterrupted_data(tmp_path, monkeypatch):
    monkeypatch.setattr("mathlit.sampling.records.SHARD_SIZE", 16)  # 3 shards of 16 questions x k
    run_task(make_cfg(*RFT, run_dir=tmp_path / "whole"))
    run = tmp_path / "killed"
    process = start_hanging_at_second_shard(run, RFT, "samples", shard_size=16)
    kill9(process)
    shards = run / "rft" / "round1" / "samples" / "shards"
    assert sorted(p.name for p in shards.glob("0*.jsonl")) == ["00000.jsonl", "00001.jsonl"]
    run_task(make_cfg(*RFT, run_dir=run))
    for name in ("samples/samples.jsonl", "augmented.jsonl"):
        killed, whole = (r / "rft" / "round1" / name for r in (run, tmp_path / "whole"))
        assert killed.read_text() == whole.read_text(), name  # none missing, none twice, in order
    pairs = [(r["id"], r["sample_idx"]) for r in map(json.loads, (shards.parent / "samples.jsonl").open())]
    assert len(pairs) == len(set(pairs)) == 48 * 2
    stages = [json.loads((r / "metrics.json").read_text())["stages"] for r in (run, tmp_path / "whole")]
    for killed, whole in zip(*stages, strict=True):  # equal but for the model folder each stage names
        assert {k: v for k, v in killed.items() if k != "model"} == {k: v for k, v in whole.items() if k != "model"}


@contextmanager
def small_tmpfs(folder: Path, size: int) -> Iterator[Path]:
    """A tmpfs of `size` bytes at `folder` (root, or a container allowed to mount); skipped elsewhere."""
    folder.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)], capture_output=True)
    if mounted.returncode:
        pytest.skip(f"cannot mount a tmpfs here (root or CAP_SYS_ADMIN needed): {mounted.stderr.decode().strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=True)


def assert_same_weights(a: Path, b: Path) -> None:
    whole, resumed = load_file(a / "hf" / "model.safetensors"), load_file(b / "hf" / "model.safetensors")
    assert whole.keys() == resumed.keys()
    for name in whole:
        torch.testing.assert_close(whole[name], resumed[name], rtol=0, atol=0, msg=name)


@pytest.mark.slow  # two in-process runs and a third resumed
def test_a_full_disk_during_a_checkpoint_keeps_the_last_good_one_and_the_rerun_ends_as_an_uninterrupted_run(tmp_path):
    """The run folder on another filesystem than $TMPDIR, as on a cluster: the checkpoint that does not fit fails
    with one line and leaves the previous one whole; after space is freed, the rerun resumes from it exactly."""
    run_task(make_cfg(*TRAIN, run_dir=tmp_path / "whole"))
    size = (tmp_path / "whole" / "checkpoints" / "last.ckpt").stat().st_size
    with small_tmpfs(tmp_path / "small", size=size * 3 // 2 + 256 * 1024) as small:  # room for one, not two
        run = small / "run"
        with pytest.raises(StorageError) as failed:
            run_task(make_cfg(*TRAIN, run_dir=run))
        assert str(failed.value) == (
            f"{run}/checkpoints/last.ckpt: cannot write it (No space left on device); the file it would replace is "
            "unchanged"
        )
        assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["checkpoints.json", "last.ckpt"]
        assert torch.load(run / "checkpoints" / "last.ckpt", weights_only=False)["global_step"] == 2
        subprocess.run(["mount", "-o", "remount,size=64m", str(small)], check=True)
        run_task(make_cfg(*TRAIN, run_dir=run))
        assert_same_weights(tmp_path / "whole", run)
        assert losses(run).items() <= losses(tmp_path / "whole").items() and len(losses(run)) == 8


SIGNAL_AT_STEP = """
import os, runpy, signal, sys
from mathlit.modules.generator import GeneratorSFT
original = GeneratorSFT.training_step
def training_step(self, batch, batch_idx):
    if self.trainer.global_step == {step} and {condition} and not getattr(GeneratorSFT, "sent", False):
        GeneratorSFT.sent = True
        os.kill(os.getpid(), signal.{signal})
    return original(self, batch, batch_idx)
GeneratorSFT.training_step = training_step
sys.argv = ["mathlit", *{args!r}]
runpy.run_module("mathlit", run_name="__main__")
"""


def run_signalled(args: list[str], *, step: int, signum: str, condition: str = "True") -> subprocess.CompletedProcess:
    """`python -m mathlit args` that sends itself `signum` at the first micro-batch of optimizer step `step`."""
    code = SIGNAL_AT_STEP.format(step=step, condition=condition, signal=signum, args=[*args, f"paths.data={DATA}"])
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)


@pytest.mark.slow  # a subprocess run and two in-process runs
@pytest.mark.parametrize("signum, status", [("SIGTERM", 143), ("SIGINT", 130)])
def test_a_signal_in_training_checkpoints_at_the_next_step_fails_the_run_in_one_line_and_the_rerun_is_exact(
    tmp_path, signum, status
):
    run = tmp_path / "stopped"
    stopped = run_signalled([*TRAIN, f"hydra.run.dir={run}"], step=3, signum=signum)
    assert stopped.returncode == status, stopped.stderr[-3000:]
    last = run / "checkpoints" / "last.ckpt"
    assert stopped.stderr.splitlines()[-1] == (
        f"mathlit: error: stopped by {signum} at step 4: saved {last}; to resume: python -m mathlit "
        f"{' '.join(TRAIN)} paths.data={DATA} hydra.run.dir={run}"
    )
    assert torch.load(last, weights_only=False)["global_step"] == 4
    assert not (run / "hf").exists() and not (run / "metrics.json").exists()
    assert not (run / ".mathlit.lock").exists()  # released on the way out
    run_task(make_cfg(*TRAIN, run_dir=run))
    run_task(make_cfg(*TRAIN, run_dir=tmp_path / "whole"))
    assert_same_weights(tmp_path / "whole", run)


@pytest.mark.slow  # a sweep of two jobs in one subprocess
def test_sigterm_in_a_sweep_stops_it_with_a_failure_and_reports_the_finished_jobs(tmp_path):
    sweep = tmp_path / "sweep"
    stopped = run_signalled(
        ["-m", *TRAIN, "seed=1,2,3", f"hydra.sweep.dir={sweep}"],
        step=3,
        signum="SIGTERM",
        condition="self.trainer.datamodule.seed == 2",
    )
    assert stopped.returncode == 143, stopped.stderr[-3000:]
    assert stopped.stderr.splitlines()[-1].startswith(f"mathlit: error: stopped by SIGTERM at step 4: saved {sweep}/1/")
    assert (sweep / "0" / "metrics.json").exists() and not (sweep / "1" / "metrics.json").exists()
    assert not (sweep / "2").exists()  # the sweep stopped: its next job never started
    report = json.loads((sweep / "sweep.json").read_text())
    assert report["runs"] == 1 and report["unfinished"] == [str(sweep / "1")]
    assert not (sweep / "1" / ".mathlit.lock").exists()


@pytest.mark.slow  # a subprocess start and an in-process run
def test_sigterm_during_eval_sampling_fails_in_one_line_releases_the_folder_and_the_rerun_is_exact(
    tmp_path, tokenizer, monkeypatch
):
    model = micro_folder(tokenizer, tmp_path / "model", seed=0)
    overrides = [*EVAL, f"model.path={model}"]
    run = tmp_path / "stopped"
    process = start_hanging_at_second_shard(run, overrides, "sampled", shard_size=2)
    process.terminate()  # SIGTERM, as a scheduler or `kill` sends it
    assert process.wait(timeout=60) == 143
    last = process.stderr.read().splitlines()[-1]
    process.stderr.close()
    assert last.startswith("mathlit: error: stopped by SIGTERM; to resume: python -m mathlit ")
    assert last.endswith(f"hydra.run.dir={run}")
    assert not (run / ".mathlit.lock").exists()  # released on the way out, not left for the rerun to take over
    monkeypatch.setattr("mathlit.sampling.records.SHARD_SIZE", 2)
    run_task(make_cfg(*overrides, run_dir=run))
    run_task(make_cfg(*overrides, run_dir=tmp_path / "whole"))
    assert pairs(run, "sampled") == pairs(tmp_path / "whole", "sampled")
