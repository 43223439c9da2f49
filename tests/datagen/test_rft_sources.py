"""rft.sources: another model's samples file pools into RFT as is; a row it cannot read is named, not a KeyError."""

import json

import pytest

from mathlit.data.splits import load_splits
from mathlit.datagen.rft import RFTDataGenerator
from mathlit.errors import DataError
from tests.conftest import make_cfg


def test_a_sources_file_is_read_as_is_and_a_row_without_a_field_the_filter_reads_is_named(tmp_path, tokenizer):
    cfg = make_cfg("task=rft", "debug=fast")
    generator = RFTDataGenerator(cfg, tokenizer, load_splits(cfg.data).train[:2], tmp_path / "rft")
    row = {"question": "q", "sample_idx": 0, "completion": "#### 1", "correct": True}
    path = tmp_path / "other_model.jsonl"
    path.write_text(json.dumps(row) + "\n")
    assert generator._source_records(str(path)) == [row | {"source": str(path)}]
    path.write_text(json.dumps(row) + "\n" + json.dumps({k: v for k, v in row.items() if k != "correct"}) + "\n")
    with pytest.raises(DataError, match=rf"{path}:2: missing field 'correct'"):
        generator._source_records(str(path))
