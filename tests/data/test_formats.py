"""Real GSM8K/MATH files load completely; bad rows fail naming file:line, or are skipped and counted."""

import json

import pytest

from mathlit.data.formats import load_examples
from mathlit.data.splits import load_splits
from mathlit.errors import ConfigError, DataError
from tests.conftest import DATA, make_cfg


@pytest.mark.parametrize(
    ("name", "rows"),
    [("gsm8k/train.jsonl", 7473), ("gsm8k/test.jsonl", 1319), ("math/test.jsonl", 5000), ("math/test500.jsonl", 500)],
)
def test_real_files_load_every_row(name, rows):
    examples, skipped = load_examples(DATA / name, "data.path")
    assert len(examples) == rows and skipped == []
    assert len({e.id for e in examples}) == rows


def test_math_train_has_two_rows_without_a_gold_answer():
    with pytest.raises(DataError, match=r"train.jsonl.gz:5530: solution has no \\boxed\{\} answer"):
        load_examples(DATA / "math/train.jsonl", "data.path")
    examples, skipped = load_examples(DATA / "math/train.jsonl", "data.path", on_bad_row="skip")
    assert len(examples) == 7498 and [m.rsplit(":", 2)[-2] for m in skipped] == ["5530", "5532"]


def test_gsm8k_gold_is_the_number_after_hashes():
    first = load_examples(DATA / "gsm8k/train.jsonl", "data.path")[0][0]
    assert first.answer == "72" and first.solution.endswith("#### 72") and first.domain == "gsm8k"


def test_math500_keeps_its_answer_level_and_subject():
    first = load_examples(DATA / "math/test500.jsonl", "data.test_path")[0][0]
    assert first.domain == "math" and first.id.startswith("test/")
    assert first.meta["subject"] and isinstance(first.meta["level"], int)


def test_prm800k_split_trains_on_12000_problems_disjoint_from_math500():
    splits = load_splits(make_cfg("data=math").data)
    assert splits.report["excluded"] == 500 and splits.report["skipped_rows"] == {f"{DATA}/math/train.jsonl": 2}
    assert len(splits.train) + len(splits.val) == 12000 - 2
    math500 = {e.question for e in splits.test}
    assert len(math500) == 500 and not math500 & {e.question for e in splits.train + splits.val}


def _write(tmp_path, lines):
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


GOOD = json.dumps({"question": "1+1?", "answer": "1+1=<<1+1=2>>2\n#### 2"})


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (json.dumps({"question": "2+2?"}), "bad.jsonl:2: missing or empty field 'answer'"),
        ('{"question": "2+2?", "answer": ', "bad.jsonl:2: not valid JSON"),
        (json.dumps({"question": "2+2?", "answer": "four"}), "bad.jsonl:2: answer has no '#### <number>' line"),
    ],
)
def test_bad_row_names_file_and_line(tmp_path, bad, message):
    with pytest.raises(DataError, match=message):
        load_examples(_write(tmp_path, [GOOD, bad, GOOD]), "data.path")


def test_skip_mode_counts_bad_rows_and_keeps_the_rest(tmp_path):
    path = _write(tmp_path, [GOOD, json.dumps({"question": "x"}), "", GOOD])
    examples, skipped = load_examples(path, "data.path", on_bad_row="skip")
    assert len(examples) == 2 and len(skipped) == 1 and "bad.jsonl:2" in skipped[0]
    cfg = make_cfg(
        "data=gsm8k", f"data.path={path}", "data.test_path=null", "data.val_examples=0", "data.on_bad_row=skip"
    )
    assert load_splits(cfg.data).report["skipped_rows"] == {str(path): 1}


def test_missing_file_names_the_config_key(tmp_path):
    cfg = make_cfg("data=gsm8k", f"data.test_path={tmp_path}/nope.jsonl")
    with pytest.raises(DataError, match=r"nope.jsonl: no such file \(set by data.test_path\)"):
        load_splits(cfg.data)


def test_unknown_format_is_reported(tmp_path):
    with pytest.raises(DataError, match="bad.jsonl:1: unknown row format"):
        load_examples(_write(tmp_path, [json.dumps({"text": "hi"})]), "data.path")


def test_train_fraction_subsets_are_nested_and_deterministic():
    def train_ids(fraction):
        return [e.id for e in load_splits(make_cfg("data=gsm8k", f"data.train_fraction={fraction}").data).train]

    quarter, half = train_ids(0.25), train_ids(0.5)
    assert (len(quarter), len(half)) == (round(7373 * 0.25), round(7373 * 0.5))  # 7473 minus 100 for validation
    assert set(quarter) < set(half) and quarter == train_ids(0.25)


def test_augment_paths_add_rows_after_subsampling_and_are_counted(tmp_path):
    from mathlit.data.formats import Example, example_to_row
    from mathlit.io import write_jsonl

    path = tmp_path / "rft.jsonl"
    write_jsonl(path, [example_to_row(Example(f"rft/{i}", "q", "s\n#### 1", "1", "gsm8k")) for i in range(5)])
    splits = load_splits(make_cfg("data=gsm8k", "data.max_train_examples=10", f"data.augment_paths=[{path}]").data)
    assert len(splits.train) == 15 and splits.report["augmented"] == {str(path): 5}


def test_bad_fraction_names_the_key():
    with pytest.raises(ConfigError, match="data.train_fraction"):
        load_splits(make_cfg("data.train_fraction=1.5").data)


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (b'{"question": "caf\xe9?", "answer": "#### 1"}', r"bad.jsonl:2: not UTF-8 \(byte 0xe9 at column 18\)"),
        (b'{"question": "x", "answer": "#### 1", "n": ' + b"9" * 5000 + b"}", "bad.jsonl:2: not valid JSON"),
        (
            json.dumps({"question": "x" * 20000, "answer": "#### 1"}).encode(),
            "bad.jsonl:2: row of 20037 bytes is longer than data.max_row_bytes=10000",
        ),
    ],
)
def test_bad_bytes_and_sizes_name_file_and_line_or_are_skipped(tmp_path, bad, message):
    path = tmp_path / "bad.jsonl"
    path.write_bytes(GOOD.encode() + b"\n" + bad + b"\n" + GOOD.encode() + b"\n")
    with pytest.raises(DataError, match=message):
        load_examples(path, "data.path", max_row_bytes=10000)
    examples, skipped = load_examples(path, "data.path", "skip", max_row_bytes=10000)
    assert len(examples) == 2 and len(skipped) == 1 and "bad.jsonl:2" in skipped[0]


def test_an_empty_file_is_named(tmp_path):
    (tmp_path / "empty.jsonl").write_text("\n")
    with pytest.raises(DataError, match=r"empty.jsonl: no rows \(set by data.path\)"):
        load_splits(make_cfg("data=custom", f"data.path={tmp_path}/empty.jsonl").data)


def test_gsm8k_and_math_ship_with_the_package(monkeypatch):
    from importlib.resources import files

    monkeypatch.delenv("MATHLIT_DATA", raising=False)
    shipped = files("mathlit") / "data" / "shipped"
    assert make_cfg("data=gsm8k").data.test_path == f"{shipped}/gsm8k/test.jsonl"  # read from test.jsonl.gz
    assert sorted(p.name for p in (shipped / "math").iterdir()) == [
        "test.jsonl.gz",
        "test500.jsonl.gz",
        "train.jsonl.gz",
    ]
