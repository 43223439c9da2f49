"""Sampling progress: samples done / total, rate and time left, in place on a terminal, as log lines elsewhere."""

import io
import logging
import re
import subprocess
import sys

import pytest

from mathlit.sampling.progress import SamplingProgress, ShardProgress
from mathlit.tasks import run_task
from tests.conftest import MICRO_MODEL, ROOT, make_cfg


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_rate_and_time_left_count_only_what_this_run_sampled(caplog):
    clock = Clock()
    progress = SamplingProgress("sampling x", 400, stream=io.StringIO(), clock=clock, log_every_s=10)
    with caplog.at_level(logging.INFO, logger="mathlit.sampling.progress"):
        progress.update(100, resumed=True)  # a shard from disk: done, but not sampled now
        clock.now = 10.0
        progress.update(100)  # 100 sampled in 10 s: 10/s, 200 left: 20 s
        clock.now = 15.0
        progress.update(100)  # under 10 s since the last line: no line
        clock.now = 30.0
        progress.update(100)
    lines = [r.getMessage() for r in caplog.records]
    assert lines[0] == "sampling x: 100/400 samples (25%, 100 from disk), 0.0 samples/s, time left unknown"
    assert lines[1] == "sampling x: 200/400 samples (50%, 100 from disk), 10.0 samples/s, 0:20 left"
    assert lines[2] == "sampling x: 400/400 samples (100%, 100 from disk), 10.0 samples/s, done in 0:30"
    assert len(lines) == 3  # the last line always comes


def test_on_a_terminal_the_line_is_rewritten_in_place_and_only_the_log_file_gets_lines(tmp_path):
    terminal, clock = Terminal(), Clock()
    log_file = logging.FileHandler(tmp_path / "run.log")
    logger = logging.getLogger("mathlit.sampling.progress")
    logger.addHandler(log_file)
    level, logger.level = logger.level, logging.INFO
    try:
        progress = SamplingProgress("sampling x", 2, stream=terminal, clock=clock)
        clock.now = 1.0
        progress.update(1)
        clock.now = 2.0
        progress.update(1)
    finally:
        logger.removeHandler(log_file)
        logger.setLevel(level)
        log_file.close()
    shown = terminal.getvalue()
    assert shown.count("\r\x1b[K") == 2 and shown.endswith("2/2 samples (100%), 1.0 samples/s, done in 0:02\n")
    assert (tmp_path / "run.log").read_text().splitlines() == [
        "sampling x: 1/2 samples (50%), 1.0 samples/s, 0:01 left",
        "sampling x: 2/2 samples (100%), 1.0 samples/s, done in 0:02",
    ]


def test_a_job_of_an_array_counts_its_own_shards():
    # 10 problems in shards of 4 (4, 4, 2); job 0 of 2 owns shards 0 and 2: 6 problems x 3 samples.
    progress = ShardProgress("s", 10, 3, 4, (0, 2), stream=io.StringIO())
    assert progress.total == 18
    progress.shard_done(1, 12, resumed=True)  # job 1's shard, read back for the merge: not this job's count
    progress.shard_done(0, 12)
    assert progress.done == 12


def test_the_log_of_a_small_eval_holds_progress_lines_that_reach_the_total(tmp_path):
    run_task(make_cfg("debug=fast", *MICRO_MODEL, run_dir=tmp_path / "sft"))
    run = tmp_path / "eval"
    overrides = ["task=eval", "debug=fast", f"model.path={tmp_path}/sft/hf", "eval.n=4", "eval.max_examples=6"]
    command = [sys.executable, "-m", "mathlit", *overrides, f"hydra.run.dir={run}"]
    result = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    log = next(run.glob("*.log")).read_text()
    counts = re.findall(r"sampling \S+/(greedy|sampled): (\d+)/(\d+) samples", log)
    assert ("greedy", "6", "6") in counts and ("sampled", "24", "24") in counts  # 6 problems; 6 x eval.n=4


def test_a_resumed_step_counts_the_shards_on_disk(tmp_path, caplog):
    from tests.sampling.test_records import Arithmetic, run

    with pytest.raises(RuntimeError):
        run(Arithmetic(fail_on_call=3), tmp_path)  # 10 problems in shards of 3: two shards written, then it dies
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="mathlit.sampling.progress"):
        run(Arithmetic(), tmp_path)
    lines = [r.getMessage() for r in caplog.records]
    assert lines[0].startswith(f"sampling {tmp_path}: 6/20 samples (30%, 6 from disk)")  # a shard: 3 problems x n=2
    assert lines[-1].startswith(f"sampling {tmp_path}: 20/20 samples (100%, 12 from disk)")  # the two written
