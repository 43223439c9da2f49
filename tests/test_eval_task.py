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
    assert json.loads((tmp_path / "rescore" / "metrics.json").read_text())["sampled"] == sampled
