"""Checkpoints that a full disk or a kill cannot spoil, and a resume that checks the one it loads.

Lightning writes a checkpoint through fsspec, which stages it in $TMPDIR and moves it into place: across
filesystems (/tmp local, the run on shared storage) that move is a copy straight over last.ckpt, and a full disk
or a kill during it leaves a truncated file that the next run loads and crashes on. Here each checkpoint is
written beside its destination, fsynced and renamed over it (mathlit.io), the file it replaces is kept as
<name>.previous.ckpt, and the size and SHA-256 of every file written are recorded in checkpoints.json. A resume
loads last.ckpt only if it opens and matches a record; otherwise it falls back to the previous one, saying so.
"""

import hashlib
import json
import logging
import os
import zipfile
from pathlib import Path
from typing import Any

import torch
from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO

from mathlit.errors import ConfigError
from mathlit.io import atomic_write, write_json

log = logging.getLogger(__name__)
RECORDS = "checkpoints.json"


def previous(path: Path) -> Path:
    """Where the checkpoint that `path` replaced is kept: last.ckpt -> last.previous.ckpt."""
    return path.with_name(f"{path.stem}.previous{path.suffix}")


def _records(folder: Path) -> dict[str, dict] | None:
    """name -> {size, sha256} of the checkpoints written in `folder`; None where none were recorded (a folder
    from an older mathlit)."""
    try:
        return json.loads((folder / RECORDS).read_text())
    except (OSError, ValueError):
        return None


def _sha256(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


class VerifiedCheckpointIO(TorchCheckpointIO):
    """torch.save straight into a temporary in the destination folder, renamed into place, with its record (global
    rank 0 calls this: Lightning's strategies write a full checkpoint from rank 0 only)."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path, storage_options: Any | None = None) -> None:
        if storage_options is not None:
            raise TypeError("VerifiedCheckpointIO takes no storage_options")
        save(Path(path), lambda f: torch.save(checkpoint, f))


def save(path: Path, write) -> None:
    """`write(f)` to `path` atomically, keeping the checkpoint it replaces, and record its size and SHA-256 (read
    back from the page cache just written)."""
    records = _records(path.parent) or {}

    def keep_previous(path: Path) -> None:
        if path.exists():
            os.replace(path, previous(path))
            records[previous(path).name] = records.pop(path.name, None)

    atomic_write(path, write, before_rename=keep_previous)
    records[path.name] = {"size": path.stat().st_size, "sha256": _sha256(path)}
    # The record follows the file: a kill between the two leaves a file without a record, which a resume treats
    # as unverified and passes over for the previous one. Records are matched by content, not name, so a file
    # renamed to .previous keeps its match whatever the order of the renames and the record.
    write_json(path.parent / RECORDS, {name: r for name, r in records.items() if r is not None})


def problem(path: Path) -> str | None:
    """Why the checkpoint at `path` cannot be resumed from; None when it can."""
    if not path.is_file():
        return "is missing"
    try:
        with zipfile.ZipFile(path) as archive:  # torch.save's format: a truncated file has no central directory
            archive.namelist()
    except (OSError, zipfile.BadZipFile) as e:
        return f"does not open ({e})"
    records = _records(path.parent)
    if records is None:
        return None
    size = path.stat().st_size
    same_size = {r["sha256"] for r in records.values() if r["size"] == size}
    if not same_size or _sha256(path) not in same_size:  # (the size first: a cut-short file is not hashed)
        return f"does not match the size and SHA-256 recorded when it was written ({path.parent / RECORDS})"
    return None


def resumable(last: Path) -> Path | None:
    """The checkpoint a resume loads: `last`, or when it does not verify the previous one (with one warning line
    naming both); None when there is neither; ConfigError when neither verifies."""
    if not last.exists() and not previous(last).exists():
        return None
    why = problem(last)
    if why is None:
        return last
    fallback = previous(last)
    if problem(fallback) is None:
        log.warning("%s %s: resuming from the previous checkpoint %s", last, why, fallback)
        return fallback
    raise ConfigError(
        f"{last} {why}, and there is no good previous checkpoint: remove {last.parent} to start over, "
        "or set trainer.resume=false"
    )
