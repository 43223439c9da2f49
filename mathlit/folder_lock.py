"""One run per folder: a run holds its run folder, so a second run started there (another seed, a reused
hydra.run.dir) refuses with one line instead of overwriting the first one's weights, checkpoints and results.

The hold is an flock on <run_dir>/.mathlit.lock, a file that names the owner (pid, host, start time) for the
refusal. The kernel drops an flock when its process dies, kill -9 included, so a rerun takes over a killed
run's folder with nothing to clean up. Only the launching process takes it: the other ranks of a
multi-process run (Lightning's DDP children, torchrun workers, srun tasks) work in their launcher's folder.
Hydra writes <run_dir>/.hydra/ before any task code runs: a Hydra callback (mathlit/hydra_callbacks.py) checks the
folder first (`check_usable`), and as a second line of defence (two runs starting at the same moment) the owner
keeps a copy of those files in the lock file and a refused run puts them back.
"""

import errno
import fcntl
import json
import logging
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from mathlit.errors import ConfigError
from mathlit.io import atomic_write_text

log = logging.getLogger(__name__)

LOCK_NAME = ".mathlit.lock"
# Set, and not 0, in every process of a multi-process run but the one that launched it.
_RANK_VARS = ("RANK", "LOCAL_RANK", "NODE_RANK", "GROUP_RANK", "SLURM_PROCID", "OMPI_COMM_WORLD_RANK", "PMI_RANK")


def is_launcher() -> bool:
    return all(os.environ.get(name, "0") == "0" for name in _RANK_VARS)


@contextmanager
def holding(run_dir: str | Path) -> Iterator[None]:
    """Hold `run_dir` for the duration (launching process only); raises ConfigError if another run holds it."""
    if not is_launcher():
        yield
        return
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / LOCK_NAME
    fd = _acquire(path)
    try:
        yield
    finally:
        if fd is not None:
            path.unlink(missing_ok=True)  # before closing: a run that opened it meanwhile sees it unlinked, retries
            os.close(fd)


def check_usable(run_dir: Path, key: str) -> None:
    """Before Hydra writes into `run_dir` (its .hydra/ record, its log file): ConfigError, one line, if the path
    is a file, a folder this user cannot write, or a folder another run holds. A refused start thus leaves the
    folder as it found it; `holding` still refuses a run that loses a race past this check."""
    existing = next(p for p in (run_dir, *run_dir.parents) if p.exists())
    if not existing.is_dir():
        raise ConfigError(f"{key}={run_dir}: {existing} is a file, not a folder; choose another folder ({key})")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ConfigError(
            f"{key}={run_dir}: cannot write in {existing} (read-only, or another user's); choose another folder ({key})"
        )
    path = run_dir / LOCK_NAME
    if not path.exists() or not is_launcher():  # the other ranks of a run work in its launcher's held folder
        return
    fd = _open(path)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise ConfigError(_busy(path, _read(fd))) from None
    except OSError:  # a filesystem without locks: holding() says so
        pass
    finally:
        os.close(fd)  # (releases the probe's lock with it)


def _open(path: Path) -> int:
    try:
        return os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    except PermissionError:
        owner = path.stat().st_uid
        raise ConfigError(
            f"{path.parent} is held by another user's run (uid {owner}; {path.name} is not writable for you): "
            "choose another folder (hydra.run.dir)"
        ) from None


def _busy(path: Path, owner: dict) -> str:
    return (
        f"{path.parent} is in use by another run (pid {owner.get('pid', '?')} on {owner.get('host', '?')}, "
        f"started {owner.get('started', '?')}): wait for it, or choose another folder (hydra.run.dir)"
    )


def _acquire(path: Path) -> int | None:
    while True:
        fd = _open(path)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            owner = _read(fd)
            os.close(fd)
            _restore_hydra(path.parent, owner.get("hydra", {}))
            raise ConfigError(_busy(path, owner)) from None
        except OSError as e:
            if e.errno not in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS):
                raise
            log.warning("%s: this filesystem cannot lock files; nothing stops a second run in this folder", path)
            os.close(fd)
            return None
        try:
            same = os.stat(path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:  # else the owner finished and unlinked it between our open and flock: open the new one
            break
        os.close(fd)
    os.ftruncate(fd, 0)
    os.write(fd, json.dumps(_owner(path.parent)).encode())
    return fd


def _owner(run_dir: Path) -> dict:
    hydra = run_dir / ".hydra"
    files = {p.name: p.read_text() for p in sorted(hydra.glob("*.yaml"))} if hydra.is_dir() else {}
    started = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    return {"pid": os.getpid(), "host": socket.gethostname(), "started": started, "hydra": files}


def _read(fd: int) -> dict:
    os.lseek(fd, 0, os.SEEK_SET)
    try:
        return json.loads(os.read(fd, 1 << 20) or b"{}")
    except ValueError:  # the owner is writing it this very moment
        return {}


def _restore_hydra(run_dir: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        atomic_write_text(run_dir / ".hydra" / name, text)
