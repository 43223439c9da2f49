"""Files that survive interruption and a full disk: atomic writes with the permissions of a plain open(), and
jsonl reads (plain or gzip) that name the file and line on error."""

import errno
import gzip
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from mathlit.errors import DataError, StorageError

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


# A full disk, a quota or a read-only folder: the user's to fix, so one line naming the file, not a traceback.
_STORAGE_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM)


def atomic_write_bytes(path: str | Path, data: bytes | memoryview, *, before_rename=None) -> None:
    """Write `data` to `path` so that readers see the old file or the whole new one (see `atomic_write`)."""
    atomic_write(path, lambda f: f.write(data), before_rename=before_rename)


def _os_error(error: BaseException | None) -> OSError | None:
    """The OSError an error is, or was raised while handling (torch.save reports a full disk as RuntimeError)."""
    while error is not None and not isinstance(error, OSError):
        error = error.__cause__ or error.__context__
    return error


def atomic_write(path: str | Path, write, *, before_rename=None) -> None:
    """`write(f)` into `path` so that readers see the old file or the whole new one, never a part: a temporary in
    the destination folder (a rename across filesystems would be a copy), flushed and fsynced, then renamed over
    `path`. `before_rename(path)` runs once the data is safe on disk (e.g. to keep the file it replaces). Written
    straight to the file: a checkpoint of tens of GB is never held in memory a second time."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as e:
        raise _storage_error(e, path) from None
    try:
        respect_umask(tmp)
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        if before_rename is not None:
            before_rename(path)
        os.replace(tmp, path)
        _fsync_folder(path.parent)
    except BaseException as e:
        Path(tmp).unlink(missing_ok=True)
        if (cause := _os_error(e)) is not None:  # a full disk, also when a writer (torch.save) wraps it
            raise _storage_error(cause, path) from None
        raise


def _storage_error(e: OSError, path: Path) -> OSError:
    if e.errno in _STORAGE_ERRNOS:
        return StorageError(f"{path}: cannot write it ({e.strerror}); the file it would replace is unchanged")
    return e


def _fsync_folder(folder: Path) -> None:
    """Make the rename itself durable (a power cut after it keeps the new name); not every filesystem can."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write `text` to `path` so that readers see the old file or the whole new one, never a part."""
    atomic_write_bytes(path, text.encode("utf-8"))


def write_json(path: str | Path, obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True) + "\n")


def write_jsonl(path: str | Path, rows: Iterable[dict], *, checksum: bool = False) -> None:
    """Rows as jsonl; with `checksum`, the file's SHA-256 recorded beside it (see `checksum_problem`)."""
    data = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode("utf-8")
    atomic_write_bytes(path, data)
    if checksum:  # after the file: a kill in between leaves a file without a record, which readers redo
        atomic_write_text(checksum_path(path), hashlib.sha256(data).hexdigest() + "\n")


def checksum_path(path: str | Path) -> Path:
    """Where the SHA-256 of a file mathlit wrote is recorded: samples.jsonl -> samples.jsonl.sha256."""
    path = Path(path)
    return path.with_name(path.name + ".sha256")


def checksum_problem(path: str | Path) -> str | None:
    """Why the file at `path` is not the one mathlit wrote (its content edited since, or no record of it);
    None when it matches its recorded SHA-256."""
    record = checksum_path(path)
    try:
        recorded = record.read_text().strip()
    except FileNotFoundError:
        return f"no checksum recorded for it ({record.name})"
    with open(path, "rb") as f:
        actual = hashlib.file_digest(f, "sha256").hexdigest()
    return None if actual == recorded else f"its content no longer matches the SHA-256 recorded in {record}"


def data_file(path: str | Path, config_key: str | None = None) -> Path:
    """The file at `path`, or its gzip-compressed twin `path.gz` (how mathlit ships its datasets).

    A missing file names the config key that pointed to it."""
    path = Path(path)
    for candidate in (path, path.with_name(path.name + ".gz")):
        if candidate.is_file():
            return candidate
    where = f" (set by {config_key})" if config_key else ""
    raise DataError(f"{path}: no such file{where}")


def _lines(path: Path) -> Iterator[tuple[int, bytes]]:
    with gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb") as f:
        yield from enumerate(f, start=1)


def _row(line: bytes, max_line_bytes: int | None) -> dict:
    """One line's JSON object, or DataError saying what is wrong with it."""
    if max_line_bytes is not None and len(line) > max_line_bytes:
        raise DataError(f"row of {len(line)} bytes is longer than data.max_row_bytes={max_line_bytes}")
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as e:
        raise DataError(f"not UTF-8 (byte 0x{line[e.start]:02x} at column {e.start + 1})") from None
    try:
        row = json.loads(text)
    except ValueError as e:  # invalid JSON, or an integer over Python's 4300-digit limit
        raise DataError(f"not valid JSON ({getattr(e, 'msg', e)})") from None
    if not isinstance(row, dict):
        raise DataError(f"expected a JSON object, got {type(row).__name__}")
    return row


def parse_rows(
    rows: Iterable[tuple[str, int, Callable[[], dict]]], parse: Callable[[dict, int], T], on_bad_row: str
) -> tuple[list[T], list[str]]:
    """`parse(row, number)` over (where, number, read_row) triples; a DataError from reading or parsing a
    row names `where` (e.g. `file:line`) and stops, or with on_bad_row="skip" is skipped and its message kept."""
    parsed, skipped = [], []
    for where, number, read in rows:
        try:
            parsed.append(parse(read(), number))
        except DataError as e:
            message = f"{where}: {e}"
            if on_bad_row == "error":
                raise DataError(message) from None
            skipped.append(message)
    return parsed, skipped


def parse_jsonl(
    path: str | Path,
    parse: Callable[[dict, int], T],
    *,
    config_key: str | None = None,
    on_bad_row: str = "error",
    max_line_bytes: int | None = None,
) -> tuple[list[T], list[str]]:
    """Parse every non-blank line of a jsonl file (or .jsonl.gz) with `parse(row, line_number)`.

    A bad line (over `max_line_bytes`, checked before it is decoded; not UTF-8; invalid JSON; or `parse`
    raising DataError) raises DataError naming `file:line`; with on_bad_row="skip" it is skipped and its
    message returned, so callers can count and report it.
    """
    path = data_file(path, config_key)
    rows = (
        (f"{path}:{lineno}", lineno, lambda line=line: _row(line, max_line_bytes))
        for lineno, line in _lines(path)
        if line.strip()
    )
    return parse_rows(rows, parse, on_bad_row)


@contextmanager
def atomic_folder(path: str | Path) -> Iterator[Path]:
    """A folder written in full or not at all (an HF export): yields a temporary beside `path` to fill; on
    success its files are fsynced and it replaces `path` (renamed, never copied); on failure it is removed."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"))
    except OSError as e:
        raise _storage_error(e, path) from None
    try:
        os.chmod(tmp, 0o777 & ~umask())
        yield tmp
        for file in tmp.rglob("*"):
            if file.is_file():
                with open(file, "rb") as f:
                    os.fsync(f.fileno())
        old = path.with_name(f".{path.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        if path.exists():
            os.replace(path, old)  # a kill between the two renames leaves no `path`: the run exports it again
        os.replace(tmp, path)
        _fsync_folder(path.parent)
        shutil.rmtree(old, ignore_errors=True)
    except BaseException as e:
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(e, OSError):
            raise _storage_error(e, path) from None
        raise
