"""task=eval: samples, metrics.json with pass@k / maj@k / PassRatio, a plot, and re-scoring without a model."""

import json

import mathlit.evaluation
from mathlit.tasks import run_task
from tests.conftest import MICRO_MODEL, make_cfg


def test_eval_samples_scores_plots_and_rescores(tmp_path, monkeypatch):
    run_task(make_cfg("debug=fast", *MICRO_MODEL, run_dir=tmp_path / "sft"))
    out = tmp_path / "eval"
    cfg = make_cfg(
        "task=eval", "debug=fast", f"model.path={tmp_path}/sft/hf", "eval.n=4", "eval.max_examples=6", run_dir=out
    )
    built, make = [], mathlit.evaluation.make_sampler
    monkeypatch.setattr("mathlit.evaluation.make_sampler", lambda *a, **kw: built.append(kw) or make(*a, **kw))
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

    monkeypatch.setattr("mathlit.evaluation.make_sampler", no_sampler)
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
