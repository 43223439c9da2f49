"""Other schemas through data.fields: SVAMP (json), GSM-Hard (jsonl), MAWPS (csv), ASDiv (jsonl), AQuA-like
(parquet), on small fixtures shaped like each; answer clean-up; bad rows named or skipped and counted."""

from pathlib import Path

import pytest

from mathlit.config import AnswerType
from mathlit.data.mapping import CLEAN
from mathlit.data.splits import load_splits, load_test
from mathlit.errors import ConfigError, DataError
from tests.conftest import DATA, make_cfg

FIXTURES = Path(__file__).parent / "fixtures"


def _splits(*overrides: str):
    return load_splits(make_cfg("data=custom", *overrides).data)


def test_svamp_joins_body_and_question_from_a_json_array():
    train = _splits(
        f"data.path={FIXTURES}/svamp.json",
        "data.fields.question='{Body} {Question}'",
        "data.fields.answer=Answer",
        "data.fields.id=ID",
    ).train
    first = next(e for e in train if e.id == "chal-1")
    assert first.question.endswith("on each pack How much do you have to pay to buy each pack?")
    assert (first.answer, first.domain, first.solution) == ("51", "gsm8k", "#### 51")  # 51.0 -> 51
    assert len(train) == 3


def test_gsm_hard_skips_and_counts_an_unreadable_target():
    cfg = ["data.fields.question=input", "data.fields.answer=target", f"data.path={FIXTURES}/gsm_hard.jsonl"]
    with pytest.raises(DataError, match=r"gsm_hard.jsonl:4: answer 'unknown' has no number"):
        _splits(*cfg)
    splits = _splits(*cfg, "data.on_bad_row=skip")
    assert sorted(e.answer for e in splits.train) == ["-9867630", "3", "70000"]
    assert splits.report["skipped_rows"] == {f"{FIXTURES}/gsm_hard.jsonl": 1}


def test_mawps_csv_maps_question_and_answer():
    train = _splits(
        f"data.path={FIXTURES}/mawps.csv", "data.fields.question=Question", "data.fields.answer=Answer"
    ).train
    assert sorted(e.answer for e in train) == ["12", "7", "9"]
    assert {e.id for e in train} == {"mawps/1", "mawps/2", "mawps/3"}


def test_asdiv_is_not_taken_for_gsm8k_when_mapped():
    path = f"data.test_path={FIXTURES}/asdiv.jsonl"
    with pytest.raises(DataError, match=r"asdiv.jsonl:1: answer has no '#### <number>' line"):  # auto: GSM8K-like
        load_test(make_cfg("data=custom", path).data)
    mapped = ["data.fields.question='{body} {question}'", "data.fields.answer=answer", "data.fields.solution=formula"]
    test = load_test(make_cfg("data=custom", path, *mapped).data)
    assert [e.answer for e in test] == ["9", "15", "2000"] and test[0].solution == "7+2=9"


def test_parquet_with_choice_letters(tmp_path):
    import datasets

    path = tmp_path / "aqua.parquet"
    rows = [{"question": "2+2?", "options": "A)3 B)4", "correct": "(b)"}, {"question": "3+3?", "correct": "A"}]
    datasets.Dataset.from_list(rows).to_parquet(str(path))
    test = load_test(
        make_cfg(
            "data=custom",
            f"data.test_path={path}",
            "data.fields.question=question",
            "data.fields.answer=correct",
            "data.answer_type=choice",
        ).data
    )
    assert [(e.answer, e.domain) for e in test] == [("B", "math"), ("A", "math")]


@pytest.mark.parametrize(
    ("kind", "raw", "clean"),
    [
        ("number", "9 (apples)", "9"),
        ("number", "145.0", "145"),
        ("number", "-$1,234.50", "-1234.5"),
        ("latex", "$\\frac{1}{2}$", "\\frac{1}{2}"),
        ("latex", "so \\boxed{x^2+1}.", "x^2+1"),
        ("choice", "C.", "C"),
    ],
)
def test_answer_clean_up(kind, raw, clean):
    assert CLEAN[AnswerType(kind)](raw) == clean


def test_mapping_errors_name_the_key_or_the_field():
    with pytest.raises(ConfigError, match="data.fields.answer is not"):
        _splits(f"data.path={FIXTURES}/mawps.csv", "data.fields.question=Question")
    with pytest.raises(DataError, match=r"mawps.csv:2: missing field 'Problem'"):
        _splits(f"data.path={FIXTURES}/mawps.csv", "data.fields.question=Problem", "data.fields.answer=Answer")


def test_arith_refuses_a_data_file_it_would_ignore():
    with pytest.raises(ConfigError, match="data.path is set but data=arith generates its problems"):
        load_splits(make_cfg("data.path=x.jsonl").data)


def test_eval_only_needs_no_training_file_and_training_needs_no_test_file():
    only_test = ["data=custom", f"data.test_path={DATA}/gsm8k/test.jsonl", "data.path=nope", "data.max_test_examples=5"]
    assert len(load_test(make_cfg(*only_test).data)) == 5
    splits = _splits(f"data.path={FIXTURES}/mawps.csv", "data.fields.question=Question", "data.fields.answer=Answer")
    assert splits.test == [] and splits.report["test"] == 0


def test_an_unknown_data_key_fails_naming_it():
    from mathlit.config import check_keys

    with pytest.raises(ConfigError, match=r"data.question_key: no such config key"):
        check_keys(make_cfg("data=custom", "+data.question_key=x"))


def test_a_hub_dataset_goes_through_datasets_load_dataset(monkeypatch):
    import datasets

    calls = []

    def load_dataset(name, split, cache_dir):
        calls.append((name, split))
        return datasets.Dataset.from_list([{"Question": "1+2?", "Answer": "3"}])

    monkeypatch.setattr(datasets, "load_dataset", load_dataset)
    test = load_test(
        make_cfg(
            "data=custom",
            "data.test_path=hub:ChilleD/SVAMP:test",
            "data.fields.question=Question",
            "data.fields.answer=Answer",
        ).data
    )
    assert calls == [("ChilleD/SVAMP", "test")] and [(e.id, e.answer) for e in test] == [("SVAMP:test/1", "3")]
