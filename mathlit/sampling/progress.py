"""Progress of a sampling step: samples done / total, samples per second and time left.

Sampling (eval, RFT rounds, verifier candidates and rollouts, synth) can run for hours with nothing else to
show. On a terminal the figures are one line rewritten in place; the run's log file (Hydra's `<job>.log`) gets
them as periodic lines, and so does the console where it is not a terminal (a SLURM job's output file, a pipe).
A resumed step counts the shards already on disk as done, and its rate counts only what this run sampled.
"""

import logging
import sys
import time
from collections.abc import Callable
from typing import TextIO

log = logging.getLogger(__name__)
LOG_EVERY_S = 30.0  # a periodic line at most this often (the first and the last line always)


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


class SamplingProgress:
    """Counts samples of one sampling step; `update` after each shard."""

    def __init__(
        self,
        label: str,
        total: int,
        *,
        stream: TextIO | None = None,
        log_every_s: float = LOG_EVERY_S,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.label, self.total = label, total
        self.done = self.resumed = 0
        self.stream = stream if stream is not None else sys.stderr
        self.in_place = self.stream.isatty()
        self.log_every_s, self.clock = log_every_s, clock
        self.started = clock()
        self.last_logged: float | None = None

    def update(self, samples: int, *, resumed: bool = False) -> None:
        """`samples` more are done; resumed: read from a shard on disk, not sampled now."""
        self.done += samples
        if resumed:
            self.resumed += samples
        now = self.clock()
        line = self.line(now)
        if self.in_place:
            self.stream.write(f"\r\x1b[K{line}")
            self.stream.flush()
        due = self.last_logged is None or now - self.last_logged >= self.log_every_s or self.done >= self.total
        if due:
            self.last_logged = now
            self._log(line)
        if self.in_place and self.done >= self.total:
            self.stream.write("\n")

    def line(self, now: float) -> str:
        sampled, elapsed = self.done - self.resumed, now - self.started
        rate = sampled / elapsed if elapsed > 0 and sampled else 0.0
        if self.done >= self.total:
            left = f"done in {_duration(elapsed)}"
        else:
            left = f"{_duration((self.total - self.done) / rate)} left" if rate else "time left unknown"
        share = 100 * self.done / self.total if self.total else 100.0
        resumed = f", {self.resumed} from disk" if self.resumed else ""
        return f"{self.label}: {self.done}/{self.total} samples ({share:.0f}%{resumed}), {rate:.1f} samples/s, {left}"

    def _log(self, line: str) -> None:
        if not self.in_place:
            log.info(line)
            return
        # The terminal shows the line in place already: only the log files get it.
        record = log.makeRecord(log.name, logging.INFO, __file__, 0, line, None, None)
        for handler in _file_handlers():
            if record.levelno >= handler.level:
                handler.handle(record)


def _file_handlers() -> list[logging.FileHandler]:
    handlers, logger = [], log
    while logger is not None:
        handlers += [h for h in logger.handlers if isinstance(h, logging.FileHandler)]
        logger = logger.parent if logger.propagate else None
    return handlers


class ShardProgress(SamplingProgress):
    """SamplingProgress over the shards one job owns (part=(i, n): shards i, i+n, ...; (0, 1): all)."""

    def __init__(self, label: str, num_examples: int, n: int, shard_size: int, part: tuple[int, int], **kwargs):
        self.part = part
        starts = range(0, num_examples, shard_size)
        owned = [min(shard_size, num_examples - s) for i, s in enumerate(starts) if i % part[1] == part[0]]
        super().__init__(label, sum(owned) * n, **kwargs)

    def shard_done(self, index: int, samples: int, *, resumed: bool = False) -> None:
        if index % self.part[1] == self.part[0]:  # another job's shard read back is not this job's progress
            self.update(samples, resumed=resumed)
