"""Weights files checked before loading: a truncated or garbled .safetensors (a copy cut short, a full disk) is
one line naming the file and its expected size, not a SafetensorError traceback from deep inside loading."""

import json
import struct
from pathlib import Path

from mathlit.errors import ConfigError

MAX_HEADER = 100_000_000  # the safetensors format's own limit on the JSON header


def safetensors_problem(path: Path) -> str | None:
    """What is wrong with a .safetensors file's layout (8-byte header length, JSON header, then exactly the
    tensors' bytes), or None. Reads the header only, not the tensors."""
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(8)
        if len(head) < 8:
            return f"truncated ({size} bytes, not even a header)"
        (header_len,) = struct.unpack("<Q", head)
        if header_len > size - 8:
            return f"truncated ({size} bytes; its header alone says {8 + header_len})"
        if header_len > MAX_HEADER:  # garbled bytes, not a header: never read gigabytes to find out
            return "not a safetensors file (its header length is not plausible)"
        try:
            header = json.loads(f.read(header_len))
            end = max((t["data_offsets"][1] for k, t in header.items() if k != "__metadata__"), default=0)
        except (ValueError, TypeError, KeyError, IndexError):
            return "not a safetensors file (its header is not valid)"
    expected = 8 + header_len + end
    if size != expected:
        return f"{'truncated' if size < expected else 'longer than its tensors'} ({size} of {expected} bytes)"
    return None


def check_safetensors(folder: Path, key: str) -> None:
    for path in sorted(folder.glob("*.safetensors")):
        if why := safetensors_problem(path):
            raise ConfigError(f"{path}: {why}; the weights in this folder are incomplete (set by {key})")
