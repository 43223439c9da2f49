"""task=rft end to end on a tiny model: stages, filtered data, report; interrupted sampling resumes exactly."""

import json

import pytest

from mathlit.errors import SamplingError
from mathlit.sampling.hf import HFSampler
from mathlit.tasks import run_task
from tests.conftest import MICRO_MODEL, make_cfg

RFT = ["task=rft", "debug=fast", *MICRO_MODEL, "rft.k=4", "rft.max_new_tokens=48", "rft.max_questions=24"]


def test_rft_runs_sft_sampling_filtering_and_finetuning(tmp_path):
    run_task(make_cfg(*RFT, "rft.init=sft", run_dir=tmp_path))
    stages = json.loads((tmp_path / "metrics.json").read_text())["stages"]
    assert [s["stage"] for s in stages] == ["sft", "rft1"]
    report = stages[1]["rft_data"]
    assert report["questions"] == 24 and report["samples"] == 96
    assert report["accepted"] + sum(report["rejected"].values()) == 96
    augmented = (tmp_path / "rft" / "round1" / "augmented.jsonl").read_text().splitlines()
    assert len(augmented) == report["accepted"]
    assert stages[1]["train_examples"] == stages[0]["train_examples"] + report["accepted"]
    meta = json.loads((tmp_path / "rft" / "round1" / "samples" / "meta.json").read_text())
    assert meta["source"] == "round1@4" and meta["params"]["n"] == 4 and meta["versions"]["torch"]
    assert meta["weights"].startswith("sha256:")  # the digest its shards are pinned to
    # provenance records the settings used (rft.*), and the sampler holds no sampling settings of its own
    assert meta["params"]["temperature"] == 0.7 and "temperature" not in meta["sampler"]
    assert (tmp_path / "rft" / "round1" / "distinct_paths.png").exists()
    assert (tmp_path / "rft1" / "hf" / "model.safetensors").exists()


def test_killed_sampling_resumes_to_the_same_data_without_duplicates(tmp_path, monkeypatch):
    # Enough questions for several shards (64 questions, shards of 64 prompts x k).
    args = [*RFT[:-1], "rft.max_questions=64", "data.max_train_examples=64", "rft.k=2"]
    monkeypatch.setattr("mathlit.sampling.records.SHARD_SIZE", 16)  # 4 shards
    run_task(make_cfg(*args, run_dir=tmp_path / "whole"))

    calls = {"n": 0}
    generate = HFSampler.generate

    def dies_on_second_call(self, prompts, params):
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("killed")
        return generate(self, prompts, params)

    monkeypatch.setattr(HFSampler, "generate", dies_on_second_call)
    with pytest.raises(SamplingError, match="finished shards are kept"):
        run_task(make_cfg(*args, run_dir=tmp_path / "resumed"))
    monkeypatch.setattr(HFSampler, "generate", generate)
    run_task(make_cfg(*args, run_dir=tmp_path / "resumed"))

    def data(run):
        return (tmp_path / run / "rft" / "round1" / "augmented.jsonl").read_text().splitlines()

    ids = [json.loads(line)["id"] for line in data("resumed")]
    assert len(ids) == len(set(ids))
    assert data("resumed") == data("whole")
