"""Symbolic equivalence under hard limits: a worker process with a time limit per check and a memory cap.

Signal-based timeouts only work on the main thread, and a symbolic blow-up can eat all RAM, so the
sympy work runs in a child process: a check that outlives `timeout_s` kills it (it is restarted on
the next check) and counts as not equal; the child's address space is capped at `memory_mb`. The
child is a plain subprocess, so this works from threads, Lightning callbacks and DataLoader
workers alike (daemonic processes may not fork multiprocessing children).
"""

import atexit
import json
import os
import select
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path

_PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])


class SymbolicChecker:
    def __init__(self, timeout_s: float = 2.0, memory_mb: int = 2048, start_timeout_s: float = 60.0):
        self.timeout_s, self.memory_mb, self.start_timeout_s = timeout_s, memory_mb, start_timeout_s
        self.stats: Counter = Counter()  # checks, timeouts, crashes
        self._lock = threading.Lock()
        self._proc: subprocess.Popen | None = None
        self._owner = os.getpid()
        atexit.register(self.close)

    def _start(self) -> subprocess.Popen:
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [_PACKAGE_ROOT, os.environ.get("PYTHONPATH")])))
        proc = subprocess.Popen(
            [sys.executable, "-m", "mathlit.answers._worker", str(self.memory_mb)],
            start_new_session=True,  # a Ctrl-C at the terminal is the run's to handle, not the checker's to die of
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            bufsize=1,
            env=env,
        )
        if self._read(proc, self.start_timeout_s) != "ready":
            proc.kill()
            raise RuntimeError("the symbolic answer checker did not start")
        return proc

    @staticmethod
    def _read(proc: subprocess.Popen, timeout: float) -> str | None:
        """The worker's next line; None past the timeout, "" when the worker died (its pipe closed)."""
        ready, _, _ = select.select([proc.stdout], [], [], timeout)
        if not ready:
            return None
        return proc.stdout.readline().strip()

    def _kill(self) -> None:
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait()
            self._proc = None

    def ask(self, check: str, pred: str, gold: str, rel_tol: float = 0.0) -> tuple[str, str | None]:
        """The worker's verdict on one check (see _worker.py) and, when it gave none, why: 'timeout' or
        'crash' (then the verdict is '0', unequal)."""
        with self._lock:
            if os.getpid() != self._owner:  # inherited through fork: the pipe belongs to the parent
                self._proc, self._owner = None, os.getpid()
            if self._proc is None or self._proc.poll() is not None:
                self._proc = self._start()
            self.stats["checks"] += 1
            try:
                self._proc.stdin.write(json.dumps([check, pred, gold, rel_tol]) + "\n")
                self._proc.stdin.flush()
            except BrokenPipeError:
                self._kill()
                self.stats["crashes"] += 1
                return "0", "crash"
            answer = self._read(self._proc, self.timeout_s)
            if not answer:
                failure = "timeout" if answer is None else "crash"
                self.stats["timeouts" if answer is None else "crashes"] += 1
                self._kill()
                return "0", failure
            return answer, None

    def equal(self, pred: str, gold: str, rel_tol: float = 0.0) -> bool:
        """pred and gold parse to equal answers, numbers within a relative rel_tol (0: exact)."""
        return self.ask("mathlit", pred, gold, rel_tol)[0] == "1"

    def close(self) -> None:
        with self._lock:
            if os.getpid() == self._owner:
                self._kill()


_default: SymbolicChecker | None = None


def checker() -> SymbolicChecker:
    """The process-wide checker, created on first use."""
    global _default
    if _default is None:
        _default = SymbolicChecker()
    return _default
