"""The synth pipeline with a scripted generator: every filter counted, provenance per row, exact resumption."""

import json
from dataclasses import replace

import pytest

from mathlit.data.splits import load_splits
from mathlit.datagen.synth import SynthGenerator
from mathlit.sampling.base import Completion
from mathlit.sampling.policy import Policy
from tests.conftest import make_cfg

ARGS = ["task=synth", "debug=fast", "synth.seeds=3", "synth.per_seed=6", "synth.answers=3", "synth.test_paths=[]"]


class Scripted:
    """Replies by call (the prompt's first word) and by the seed or question it is about."""

    def __init__(self, tests: list[str], fail_on_call: int | None = None):
        self.tests, self.fail_on_call, self.calls = tests, fail_on_call, []

    def generate(self, prompts, params):
        self.calls.append(prompts[0].split()[0])
        if len(self.calls) == self.fail_on_call:
            raise RuntimeError("killed")
        return [[Completion(self.reply(p, i), 9, "stop") for i in range(params.n)] for p in prompts]

    def reply(self, prompt: str, i: int) -> str:
        call, text = prompt.split(" ", 1)
        if call == "CREATE":
            k = int(text.split("|")[0])  # the seed's number (see `seeds`)
            return [
                f"CREATED QUESTION: Ann has {k + 2} pens and buys 3 more pens. How many pens does Ann have?",
                "VERIFICATION AND MODIFICATION: I forgot the question",  # unparseable
                f"CREATED QUESTION: {text}",  # the seed itself: a duplicate of a training question
                f"CREATED QUESTION: {self.tests[k]}",  # contaminated
                "CREATED QUESTION: " + "very " * 300 + f"{k} long?",  # too long
                f"CREATED QUESTION: Bob has {min(k, 1)} cats. How many cats?",  # k=2: a duplicate of k=1's
            ][i]
        if call == "VERIFY":
            if text.startswith("Bob has 0"):
                return "I cannot do this."  # unparseable
            return f"CREATED QUESTION: {text}\nVERIFICATION AND MODIFICATION: fine\nFINAL CREATED QUESTION: {text}"
        if "cats" in text:  # a tie: no majority
            return ["#### 1", "#### 2", "no idea"][i]
        a = int(text.split()[2])
        return [
            f"{a}+3=<<{a}+3={a + 3}>>{a + 3}.\n#### {a + 3}",
            f"{a}+1+2=<<{a}+1+2={a + 3}>>{a + 3}\n#### {a + 3}",
            "#### 99",
        ][i]

    def close(self):
        pass


def run(tmp_path, sampler=None, *args):
    cfg = make_cfg(*ARGS, *args, run_dir=tmp_path)
    for call in ("create", "verify", "answer"):
        cfg.synth.prompts[call] = call.upper() + " {question}"
    splits = load_splits(cfg.data)
    seeds = [replace(s, question=f"{k}|{s.question}") for k, s in enumerate(splits.train)]  # numbered
    tests = [e.question for e in splits.test]
    sampler = sampler or Scripted(tests)
    policy = Policy(cfg, tokenizer_of(cfg), sampler=sampler, digest="scripted")
    generator = SynthGenerator(cfg, tokenizer_of(cfg), policy)
    known = [e.question for e in seeds]
    return generator.run(seeds[: cfg.synth.seeds], known, tests, tmp_path), sampler


def tokenizer_of(cfg):
    from mathlit.models.build import load_tokenizer

    return load_tokenizer(cfg.model)


def test_every_filter_is_counted_and_the_funnel_adds_up(tmp_path):
    result, sampler = run(tmp_path)
    report = json.loads((tmp_path / "synth_report.json").read_text())
    assert report["rejected"] == {
        "unparseable": 4,
        "duplicate": 4,
        "too_long": 3,
        "contaminated": 3,
        "no_majority": 1,
        "no_solution": 0,
    }
    assert [count for _, count in report["funnel"]] == [18, 14, 10, 7, 4, 3, 3]
    assert report["questions"] == 3 and report["rows"] == 6 and report["label_share_mean"] == pytest.approx(2 / 3)
    assert sampler.calls == ["CREATE", "VERIFY", "ANSWER"]
    rejected = [json.loads(line) for line in (tmp_path / "rejected.jsonl").read_text().splitlines()]
    contaminated = [r for r in rejected if r["reason"] == "contaminated"]
    assert all(r["closest_test"] == r["question"] and r["overlap"] == 1.0 for r in contaminated)
    reasons = {r["detail"] for r in rejected if r["reason"] in ("unparseable", "duplicate", "no_majority")}
    assert reasons == {
        "create: no CREATED QUESTION field",
        "verify: no FINAL CREATED QUESTION field",
        "of a training question",
        "of new question " + next(r["id"] for r in rejected if r["reason"] == "no_majority"),
        "tie (share 0.33)",
    }
    assert (tmp_path / "funnel.png").stat().st_size > 0


def test_rows_carry_the_label_the_agreeing_paths_and_their_provenance(tmp_path):
    result, _ = run(tmp_path)
    rows = [json.loads(line) for line in (tmp_path / "synthetic.jsonl").read_text().splitlines()]
    assert [(r["answer"], r["solution"][:5]) for r in rows] == [
        (str(a + 3), start) for a in (2, 3, 4) for start in (f"{a}+3=<", f"{a}+1+2")
    ]
    first = rows[0]
    assert first["question"] == "Ann has 2 pens and buys 3 more pens. How many pens does Ann have?"
    assert first["domain"] == "gsm8k" and first["id"].endswith("#syn0/0")
    meta = first["meta"]
    assert meta["synthetic"] is True and meta["seed_id"] == first["id"].split("#")[0]
    assert meta["generator"] == {"sampler": "given", "weights": "scripted"}
    assert meta["label_share"] == pytest.approx(2 / 3)
    assert meta["prompts"]["create"].startswith("sha256:") and meta["versions"]["torch"]
    assert meta["sampling"]["create"]["temperature"] == 1.0 and meta["sampling"]["answer"]["n"] == 3
    assert len({r["id"] for r in rows}) == len(rows) == 6


def test_without_verification_the_created_question_is_used(tmp_path):
    result, sampler = run(tmp_path, None, "synth.verify=false")
    assert sampler.calls == ["CREATE", "ANSWER"]
    assert result.report["rejected"]["unparseable"] == 3 and result.report["rejected"]["no_majority"] == 2


def test_a_run_killed_in_any_call_resumes_to_the_same_rows(tmp_path, monkeypatch):
    monkeypatch.setattr("mathlit.sampling.records.SHARD_SIZE", 1)  # a shard per seed or question
    run(tmp_path / "whole")
    tests = [e.question for e in load_splits(make_cfg(*ARGS).data).test]
    for fail_on_call in (2, 20):  # in create (calls 1-3) and answer (19-22; verify is 4-18)
        folder = tmp_path / f"killed{fail_on_call}"
        with pytest.raises(RuntimeError, match="killed"):
            run(folder, Scripted(tests, fail_on_call))
        assert not (folder / "synthetic.jsonl").exists()
        _, resumed = run(folder)
        assert len(resumed.calls) == 22 - (fail_on_call - 1)  # only what was missing
        assert (folder / "synthetic.jsonl").read_text() == (tmp_path / "whole" / "synthetic.jsonl").read_text()


def test_the_synthetic_cap_keeps_a_nested_subset_and_every_real_row(tmp_path):
    run(tmp_path)
    path = tmp_path / "synthetic.jsonl"

    def train(cap):
        splits = load_splits(make_cfg("debug=fast", f"data.augment_paths=[{path}]", f"data.synthetic_max={cap}").data)
        return splits, {e.id for e in splits.train if e.meta.get("synthetic")}

    full, all_rows = train("null")
    (small, two), (_, four) = train(2), train(4)
    assert len(all_rows) == 6 and len(two) == 2 and two < four < all_rows
    assert len(small.train) == len(full.train) - 4 and small.report["synthetic_dropped"] == 4
