"""The labelled regression suite (pairs.jsonl): real-world answer forms, equal and unequal, through extraction
and equivalence as graded in a run. Every kind of issue 10 has its rows; `equal` is the truth, never what the
checker said. bench/answers.py runs the same rows through mathlit and math-verify."""

import json
from pathlib import Path

import pytest

from mathlit.answers import extract, is_equiv

PAIRS = [json.loads(line) for line in (Path(__file__).parent / "pairs.jsonl").read_text().splitlines()]


def test_the_suite_covers_every_kind_with_equal_and_unequal_pairs():
    assert len(PAIRS) >= 300
    kinds = {r["kind"] for r in PAIRS}
    for kind in kinds - {"safety"}:
        assert {r["equal"] for r in PAIRS if r["kind"] == kind} == {True, False}, kind


@pytest.mark.parametrize("row", PAIRS, ids=[f"{r['kind']}-{i}" for i, r in enumerate(PAIRS)])
def test_pair(row):
    answer = extract(row["response"], row["domain"], row["extract"])
    assert is_equiv(answer, row["gold"], row["domain"]) is row["equal"], (answer, row["gold"])
