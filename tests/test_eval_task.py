"""task=eval: samples, metrics.json with pass@k / maj@k / PassRatio, a plot, and re-scoring without a model."""

import json
from pathlib import Path

import pytest

import mathlit.sampling.policy
from mathlit.errors import DataError
from mathlit.rerankers import CalculatorCheck, Likelihood, TrainedVerifier
from mathlit.tasks import run_task
from mathlit.tasks.eval import sample_fields
from tests.conftest import MICRO_MODEL, make_cfg


def test_eval_samples_scores_plots_and_rescores(tmp_path, monkeypatch):
    run_task(make_cfg("debug=fast", *MICRO_MODEL, run_dir=tmp_path / "sft"))
    out = tmp_path / "eval"
    cfg = make_cfg(
        "task=eval", "debug=fast", f"model.path={tmp_path}/sft/hf", "eval.n=4", "eval.max_examples=6", run_dir=out
    )
    built, make = [], mathlit.sampling.policy.make_sampler
    monkeypatch.setattr("mathlit.sampling.policy.make_sampler", lambda *a, **kw: built.append(kw) or make(*a, **kw))
    assert run_task(cfg) == json.loads((out / "metrics.json").read_text())["greedy_accuracy"]
    assert len(built) == 1  # one sampler (one vLLM engine) for the greedy and the sampled completions
    metrics = json.loads((out / "metrics.json").read_text())
    sampled = metrics["sampled"]
    assert sampled["problems"] == 6 and sampled["n"] == 4
    assert {"pass@1", "pass@2", "pass@4", "maj@1", "maj@2", "maj@4", "pass_ratio"} <= sampled.keys()
    assert sampled["pass@1"] == sampled["pass_ratio"] <= sampled["pass@4"]
    assert 0 <= metrics["greedy_accuracy"] <= 1
    assert (out / "pass_at_k.png").stat().st_size > 10_000
    low, high = metrics["greedy_ci95"]
    assert low <= metrics["greedy_accuracy"] <= high and sampled["ci95"]["pass@4"][0] <= sampled["pass@4"]
    errors = metrics["error_types"]["sampled"]
    assert errors["samples"] == 24 and sum(errors["counts"].values()) == errors["wrong"]
    assert metrics["error_types"]["greedy"]["samples"] == 6
    by_steps = metrics["reasoning_steps"]  # arith: 2-3 annotated steps per reference solution
    assert (
        by_steps["accuracy_of"] == "sampled" and by_steps["problems"] == 6 and set(by_steps["by_steps"]) <= {"2", "3"}
    )
    assert 0 <= by_steps["p"] <= 1 and (out / "steps.png").stat().st_size > 10_000
    headline = metrics["headline"]
    assert headline["task"] == "eval" and headline["model"]["path"] == f"{tmp_path}/sft/hf"
    assert headline["sampling"] == {"n": 4, "temperature": 0.7, "top_p": 1.0, "max_new_tokens": 32}
    assert headline["accuracy"]["pass@4"] == sampled["pass@4"] and headline["ci95"]["maj@4"] == sampled["ci95"]["maj@4"]
    assert headline["accuracy"]["single_step_p"] == by_steps["p"] and headline["data"]["test"] == 6
    lines = (out / "sampled" / "samples.jsonl").read_text().splitlines()
    assert len(lines) == 24
    record = json.loads(lines[0])
    fields = {"id", "sample_idx", "prompt", "completion", "answer", "answer_source", "correct", "num_tokens"}
    assert fields <= record.keys()
    sources = metrics["answer_sources"]  # where each answer came from (strict GSM8K-style: ####, then fallbacks)
    assert sum(sources["greedy"].values()) == 6 and sum(sources["sampled"].values()) == 24
    assert set(sources["sampled"]) <= {"hashes", "answer_is", "last_number", "none", "ambiguous", "error"}

    # The same folder again: every shard is on disk, so metrics come back without any sampler being built.
    def no_sampler(*args, **kwargs):
        raise AssertionError("a sampler was built although every sample was on disk")

    monkeypatch.setattr("mathlit.sampling.policy.make_sampler", no_sampler)
    (out / "metrics.json").unlink()
    run_task(cfg)
    assert json.loads((out / "metrics.json").read_text()) == metrics

    rescored = make_cfg("task=eval", f"eval.samples_path={out}/sampled/samples.jsonl", run_dir=tmp_path / "rescore")
    run_task(rescored)
    rescore_metrics = json.loads((tmp_path / "rescore" / "metrics.json").read_text())
    assert rescore_metrics["sampled"] == sampled and rescore_metrics["error_types"]["sampled"] == errors
    assert "reasoning_steps" not in rescore_metrics  # no reference solutions without the data

    # task=report on the two eval folders (no .hydra/: nothing swept, one group of two runs).
    run_task(make_cfg("task=report", f"report.dir=[{out},{tmp_path}/rescore]", run_dir=tmp_path / "report"))
    report = json.loads((tmp_path / "report" / "metrics.json").read_text())
    assert report["runs"] == 2 and report["swept"] == [] and len(report["groups"]) == 1
    figures = report["groups"][0]["figures"]  # the figures both runs have: a re-scoring has no greedy
    assert set(figures) == {"pass@4", "maj@4", "pass_ratio"} and figures["pass@4"]["mean"] == sampled["pass@4"]


def sample(qid: str, idx: int, completion: str, answer: str, gold: str) -> dict:
    return {
        "id": qid,
        "sample_idx": idx,
        "prompt": f"Question {qid}\n",
        "question": f"Question {qid}",
        "completion": completion,
        "answer": answer,
        "answer_source": "hashes",
        "correct": answer == gold,
        "gold": gold,
        "num_tokens": 20,
        "finish_reason": "stop",
        "domain": "gsm8k",
    }


def test_rerank_by_calculations_votes_among_the_samples_whose_calculations_hold(tmp_path):
    slip, sound = "Noah has 19+20=<<19+20=41>>41 eggs.\n#### 41", "Noah has 2+19=<<2+19=21>>21 eggs.\n#### 21"
    records = [sample("a", i, slip, "41", "21") for i in range(3)] + [sample("a", 3, sound, "21", "21")]
    # Every sample of "b" slips: the vote is then the plain majority (5), not the first answer seen (7).
    for i, answer in enumerate(("7", "5", "5", "9")):
        records.append(sample("b", i, f"So 2*2=<<2*2=5>>{answer}.\n#### {answer}", answer, "5"))
    # No annotations at all: every sample passes, and the calculator's vote is the majority's.
    for i, answer in enumerate(("8", "8", "3", "8")):
        records.append(sample("c", i, f"The answer is {answer}.\n#### {answer}", answer, "8"))
    path = tmp_path / "samples.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    out = tmp_path / "calc"
    run_task(make_cfg("task=eval", f"eval.samples_path={path}", "eval.rerank=calculations", run_dir=out))

    rerank = json.loads((out / "metrics.json").read_text())["rerank"]
    assert rerank["verifier"] == "calculations" and rerank["n"] == 4
    assert rerank["maj@4"] == 2 / 3  # "a": three slips outvote the sound sample
    assert rerank["weighted@4"] == rerank["cluster@4"] == 1.0  # the sound sample's answer wins "a"; "b" and "c" hold
    assert rerank["best_of@4"] == 2 / 3  # best-of-4 of "b": four equal scores, the first (7) is kept
    scores = {(r["id"], r["sample_idx"]): r["score"] for r in map(json.loads, (out / "scored.jsonl").open())}
    assert scores[("a", 3)] == scores[("c", 2)] == 1.0 and 0 < scores[("a", 0)] == scores[("b", 1)] < 1e-3
    assert (out / "rerank.png").stat().st_size > 10_000


def test_a_samples_file_without_a_field_that_scoring_reads_names_the_row_and_field(tmp_path):
    rows = [
        sample("a", 0, "#### 1", "1", "1"),
        {k: v for k, v in sample("a", 1, "#### 2", "2", "1").items() if k != "domain"},
    ]
    path = tmp_path / "samples.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    with pytest.raises(DataError, match=rf"{path}:2: missing field 'domain'"):
        run_task(make_cfg("task=eval", f"eval.samples_path={path}", run_dir=tmp_path / "out"))
    no_prompt = {k: v for k, v in rows[0].items() if k != "prompt"}
    path.write_text(json.dumps(no_prompt) + "\n")  # the calculator needs no prompt, the likelihood does
    run_task(make_cfg("task=eval", f"eval.samples_path={path}", "eval.rerank=calculations", run_dir=tmp_path / "c"))
    with pytest.raises(DataError, match=r"samples.jsonl:1: missing field 'prompt'"):
        run_task(make_cfg("task=eval", f"eval.samples_path={path}", "eval.rerank=likelihood", run_dir=tmp_path / "l"))


def test_the_fields_a_samples_row_needs_follow_what_scores_it():
    base = ("id", "sample_idx", "completion", "answer", "correct", "domain")
    verifier = TrainedVerifier(Path("verifier/hf"))
    assert sample_fields(None, None) == sample_fields(CalculatorCheck(), "gen") == base
    assert sample_fields(Likelihood(Path("gen")), "gen") == (*base, "prompt")
    assert sample_fields(verifier, None) == (*base, "question")
    assert sample_fields(verifier, "gen") == (*base, "question", "prompt")  # the likelihood runs beside it
