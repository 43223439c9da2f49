"""One run per folder: a second run is refused with one line; a killed run's lock is taken over; ranks share."""

import json
import os
import socket

import pytest

from mathlit.errors import ConfigError
from mathlit.folder_lock import LOCK_NAME, holding


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
        with holding(tmp_path):  # a DDP child, torchrun worker or srun task of the same run
            pass
        assert (tmp_path / LOCK_NAME).exists()
