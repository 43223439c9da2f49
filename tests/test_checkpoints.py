"""Checkpoints written beside their destination with a record, the previous one kept, and a resume that loads
only a checkpoint matching its record (mathlit.checkpoints)."""

import logging

import pytest
import torch

from mathlit.checkpoints import RECORDS, VerifiedCheckpointIO, previous, resumable
from mathlit.errors import ConfigError


def save(path, step: int) -> None:
    VerifiedCheckpointIO().save_checkpoint({"global_step": step, "w": torch.arange(1000.0) * step}, path)


def step(path) -> int:
    return torch.load(path, weights_only=False)["global_step"]


def test_a_checkpoint_replaces_the_last_keeps_it_as_previous_and_leaves_no_temporary(tmp_path):
    last = tmp_path / "checkpoints" / "last.ckpt"
    for n in (2, 4, 6):
        save(last, n)
    assert (step(last), step(previous(last))) == (6, 4)
    assert sorted(p.name for p in last.parent.iterdir()) == [RECORDS, "last.ckpt", "last.previous.ckpt"]
    assert resumable(last) == last


@pytest.mark.parametrize(
    "spoil",
    [
        lambda path: path.write_bytes(path.read_bytes()[: path.stat().st_size // 3]),  # a truncated copy
        lambda path: path.write_bytes(path.read_bytes().replace(b"global_step", b"global_stop")),  # same size
        lambda path: path.unlink(),  # a kill between the renames
    ],
    ids=["truncated", "edited", "missing"],
)
def test_a_spoiled_last_checkpoint_falls_back_to_the_previous_with_one_warning_naming_both(tmp_path, caplog, spoil):
    last = tmp_path / "last.ckpt"
    save(last, 2)
    save(last, 4)
    spoil(last)
    with caplog.at_level(logging.WARNING, logger="mathlit.checkpoints"):
        assert resumable(last) == previous(last)
    [line] = caplog.messages
    assert line.startswith(str(last)) and line.endswith(f"resuming from the previous checkpoint {previous(last)}")
    assert step(previous(last)) == 2


def test_neither_checkpoint_good_is_one_line_naming_the_way_out(tmp_path):
    last = tmp_path / "last.ckpt"
    save(last, 2)
    save(last, 4)
    for path in (last, previous(last)):
        path.write_bytes(b"PK garbage")
    with pytest.raises(ConfigError, match=r"last\.ckpt does not open .* trainer\.resume=false"):
        resumable(last)


def test_a_checkpoint_without_records_is_trusted_when_it_opens(tmp_path):
    """A run folder of an older mathlit: nothing recorded, so the archive's integrity is all there is to check."""
    last = tmp_path / "last.ckpt"
    torch.save({"global_step": 3}, last)
    assert resumable(last) == last
    assert resumable(tmp_path / "none.ckpt") is None
