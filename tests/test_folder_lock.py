"""One run per folder: a second run is refused with one line; a killed run's lock is taken over; ranks share."""

import json
import os
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from mathlit.errors import ConfigError
from mathlit.folder_lock import LOCK_NAME, check_usable, holding
from tests.conftest import ROOT


def test_a_held_folder_refuses_a_second_run_naming_folder_and_owner(tmp_path):
    (tmp_path / ".hydra").mkdir()
    (tmp_path / ".hydra" / "config.yaml").write_text("seed: 1\n")
    with holding(tmp_path):
        (tmp_path / ".hydra" / "config.yaml").write_text("seed: 2\n")  # what Hydra does before the second run
        with pytest.raises(ConfigError) as refused:
            with holding(tmp_path):
                pytest.fail("the second run got the folder")
        assert str(refused.value).startswith(f"{tmp_path} is in use by another run (pid {os.getpid()} on ")
        assert socket.gethostname() in str(refused.value) and "\n" not in str(refused.value)
        assert (tmp_path / ".hydra" / "config.yaml").read_text() == "seed: 1\n"  # the owner's record put back
    assert not (tmp_path / LOCK_NAME).exists()
    with holding(tmp_path):  # released: the next run gets it
        assert json.loads((tmp_path / LOCK_NAME).read_text())["pid"] == os.getpid()


def test_the_lock_of_a_killed_run_is_taken_over(tmp_path):
    # What kill -9 leaves: the file, naming a process that no longer holds it.
    (tmp_path / LOCK_NAME).write_text(json.dumps({"pid": 999999, "host": socket.gethostname(), "started": "then"}))
    with holding(tmp_path):
        assert json.loads((tmp_path / LOCK_NAME).read_text())["pid"] == os.getpid()


@pytest.mark.parametrize("variable", ["LOCAL_RANK", "RANK", "SLURM_PROCID"])
def test_other_ranks_of_a_run_work_in_its_held_folder(tmp_path, monkeypatch, variable):
    with holding(tmp_path):
        monkeypatch.setenv(variable, "1")
        check_usable(tmp_path, "hydra.run.dir")  # its Hydra start checks the folder its launcher holds
        with holding(tmp_path):  # a DDP child, torchrun worker or srun task of the same run
            pass
        assert (tmp_path / LOCK_NAME).exists()


def start(*overrides: str) -> subprocess.CompletedProcess:
    """`python -m mathlit` that stops at once if it gets its folder (a config error after the folder checks)."""
    command = [sys.executable, "-m", "mathlit", "trainer.global_batch_size=0", *overrides]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True)


def test_a_run_folder_that_is_a_file_is_one_line(tmp_path):
    (tmp_path / "file").write_text("mine\n")
    for run_dir in (tmp_path / "file", tmp_path / "file" / "run"):
        result = start(f"hydra.run.dir={run_dir}")
        assert result.returncode == 1
        assert result.stderr.splitlines() == [
            f"mathlit: error: hydra.run.dir={run_dir}: {tmp_path / 'file'} is a file, not a folder; choose another "
            "folder (hydra.run.dir)"
        ]
    assert (tmp_path / "file").read_text() == "mine\n"


def test_a_held_folder_is_refused_before_hydra_rewrites_its_record(tmp_path):
    (tmp_path / ".hydra").mkdir()
    (tmp_path / ".hydra" / "config.yaml").write_text("seed: 1\n")
    with holding(tmp_path):
        before = os.stat(tmp_path / ".hydra" / "config.yaml").st_mtime_ns
        result = start(f"hydra.run.dir={tmp_path}")
        assert os.stat(tmp_path / ".hydra" / "config.yaml").st_mtime_ns == before  # not rewritten and put back
        assert not (tmp_path / ".hydra" / "overrides.yaml").exists()
    [line] = result.stderr.splitlines()
    assert line.startswith(f"mathlit: error: {tmp_path} is in use by another run (pid {os.getpid()} on ")


@pytest.fixture
def read_only(tmp_path):
    """tmp_path/ro, a read-only bind mount (root, or a container allowed to mount); skipped elsewhere."""
    folder = tmp_path / "ro"
    (folder / ".hydra").mkdir(parents=True)
    (folder / ".hydra" / "config.yaml").write_text("seed: 1\n")
    bound = subprocess.run(["mount", "--bind", str(folder), str(folder)], capture_output=True, text=True)
    if bound.returncode:
        pytest.skip(f"cannot bind-mount here (root or CAP_SYS_ADMIN needed): {bound.stderr.strip()}")
    try:
        subprocess.run(["mount", "-o", "remount,ro,bind", str(folder)], check=True)
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=True)


def test_a_read_only_run_folder_is_one_line_and_left_as_it_was(read_only):
    result = start(f"hydra.run.dir={read_only}")
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"mathlit: error: hydra.run.dir={read_only}: cannot write in {read_only} (read-only, or another user's); "
        "choose another folder (hydra.run.dir)"
    ]
    assert (read_only / ".hydra" / "config.yaml").read_text() == "seed: 1\n"


AS_NOBODY = """
import os, sys
from pathlib import Path
from mathlit.errors import ConfigError
from mathlit.folder_lock import check_usable, holding
os.setgroups([]); os.setresgid(65534, 65534, 65534); os.setresuid(65534, 65534, 65534)
folder = Path(sys.argv[1])
try:
    check_usable(folder, "hydra.run.dir")
except ConfigError as e:
    print(e)
try:
    with holding(folder):
        pass
except ConfigError as e:
    print(e)
"""


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root, to be another user")
def test_another_users_lock_is_one_line_for_the_check_and_for_the_lock_itself():
    """A folder another user can write into (group-shared), holding root's 0600 lock: both the start-up check and
    holding() refuse with one line instead of a PermissionError."""
    with tempfile.TemporaryDirectory(dir="/tmp") as top:  # (pytest's tmp_path is root's alone)
        shared = Path(top) / "shared"
        shared.mkdir()
        os.chmod(top, 0o755)
        os.chmod(shared, 0o777)
        (shared / LOCK_NAME).write_text("{}")
        os.chmod(shared / LOCK_NAME, 0o600)
        result = subprocess.run(
            [sys.executable, "-c", AS_NOBODY, str(shared)], cwd=ROOT, capture_output=True, text=True
        )
    assert result.returncode == 0, result.stderr[-2000:]
    line = (
        f"{shared} is held by another user's run (uid 0; {LOCK_NAME} is not writable for you): choose another "
        "folder (hydra.run.dir)"
    )
    assert result.stdout.splitlines() == [line, line]
