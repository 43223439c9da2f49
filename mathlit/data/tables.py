"""Data files that are not jsonl (json, parquet, csv, tsv) and hub datasets, read through Hugging Face `datasets`.

    data.path=svamp.json   data.path=train.parquet   data.path=mawps.csv   data.path=hub:ChilleD/SVAMP:test

A row is named `file:line` in csv files (the header is line 1) and `file row N` otherwise.
"""

import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from mathlit.errors import DataError
from mathlit.io import data_file

HUB = "hub:"  # hub:NAME[:SPLIT], where the network allows
BUILDERS = {".json": "json", ".parquet": "parquet", ".csv": "csv", ".tsv": "csv"}


def is_table(path: str) -> bool:
    return path.startswith(HUB) or Path(path).suffix in BUILDERS


def _load(path: str, config_key: str):
    import datasets  # imported only for these files: it takes a second

    datasets.disable_progress_bars()
    datasets.logging.set_verbosity_error()
    # A throw-away cache: the rows are read once into memory, never reused from disk.
    with tempfile.TemporaryDirectory() as cache:
        if path.startswith(HUB):
            name, _, split = path.removeprefix(HUB).partition(":")
            return datasets.load_dataset(name, split=split or "train", cache_dir=cache).to_list()
        suffix = Path(path).suffix
        extra = {"delimiter": "\t"} if suffix == ".tsv" else {}
        file = str(data_file(path, config_key))
        return datasets.load_dataset(
            BUILDERS[suffix], data_files=file, split="train", cache_dir=cache, **extra
        ).to_list()


def table_rows(path: str, config_key: str) -> Iterator[tuple[str, int, Callable[[], dict]]]:
    """(where, number, read_row) for each row, as `mathlit.io.parse_rows` takes them."""
    try:
        rows = _load(path, config_key)
    except DataError:
        raise
    except Exception as e:  # the datasets library's many errors: malformed file, bad bytes, no network
        first = str(e).strip().splitlines()[0] if str(e).strip() else ""
        raise DataError(f"{path}: cannot be read (set by {config_key}): {type(e).__name__}: {first}") from None
    csv = Path(path).suffix in (".csv", ".tsv") and not path.startswith(HUB)
    for i, row in enumerate(rows):
        yield (f"{path}:{i + 2}" if csv else f"{path} row {i + 1}"), i + 1, lambda row=row: row
