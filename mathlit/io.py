"""Files that survive interruption: atomic writes with the permissions of a plain open(), and jsonl reads
that name the file and line on error."""

import json
import os
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

from mathlit.errors import DataError

T = TypeVar("T")


def umask() -> int:
    """The process umask, read without setting it: os.umask can only swap it, and for that moment files
    that other threads create get mode 0666."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)  # no /proc (not Linux): the swap it is
    os.umask(mask)
    return mask


def respect_umask(*paths: str | Path) -> None:
    """Give files the mode open() would have (0666 less the umask, 0644 under umask 022). Temporaries renamed
    into place (ours, safetensors' and hence save_pretrained's) keep mkstemp's 0600: teammates on a shared
    machine could not read the results."""
    mode = 0o666 & ~umask()
    for path in paths:
        os.chmod(path, mode)


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write `text` to `path` so that readers see the old file or the whole new one, never a part."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        respect_umask(tmp)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: str | Path, obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True) + "\n")


def write_jsonl(path: str | Path, rows: Iterable[dict]) -> None:
    atomic_write_text(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))


def parse_jsonl(
    path: str | Path,
    parse: Callable[[dict, int], T],
    *,
    config_key: str | None = None,
    on_bad_row: str = "error",
) -> tuple[list[T], list[str]]:
    """Parse every non-blank line of a jsonl file with `parse(row, line_number)`.

    A bad line (invalid JSON, or `parse` raising DataError) raises DataError naming `file:line`; with
    on_bad_row="skip" it is skipped and its message returned, so callers can count and report it.
    A missing file names the config key that pointed to it.
    """
    path = Path(path)
    if not path.is_file():
        where = f" (set by {config_key})" if config_key else ""
        raise DataError(f"{path}: no such file{where}")
    parsed, skipped = [], []
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as e:
                    raise DataError(f"not valid JSON ({e.msg})") from None
                if not isinstance(row, dict):
                    raise DataError(f"expected a JSON object, got {type(row).__name__}")
                parsed.append(parse(row, lineno))
            except DataError as e:
                message = f"{path}:{lineno}: {e}"
                if on_bad_row == "error":
                    raise DataError(message) from None
                skipped.append(message)
    return parsed, skipped
