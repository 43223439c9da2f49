"""Sampling runs: graded records in atomic shards; an interrupted run resumes without redoing work."""

from dataclasses import replace

import pytest

from mathlit.data.formats import Example
from mathlit.errors import ConfigError
from mathlit.sampling.base import Completion, SamplingParams
from mathlit.sampling.records import sample_records

EXAMPLES = [
    Example(f"q{i}", f"What is {i}+{i}?", f"{i}+{i}=<<{i}+{i}={2 * i}>>{2 * i}\n#### {2 * i}", str(2 * i), "gsm8k")
    for i in range(10)
]


class Arithmetic:
    """A deterministic stand-in backend: answers 2i for even i, 2i+1 for odd i; can fail on a chosen call."""

    def __init__(self, fail_on_call=None):
        self.calls, self.fail_on_call = 0, fail_on_call

    def generate(self, prompts, params):
        self.calls += 1
        if self.calls == self.fail_on_call:
            raise RuntimeError("engine died")
        out = []
        for p in prompts:
            i = int(p.split("What is ")[1].split("+")[0])
            out.append([Completion(f"So #### {2 * i + (i % 2)}", 5, "stop") for _ in range(params.n)])
        return out

    def close(self):
        pass


def run(sampler, out_dir, source="sha256:a", examples=EXAMPLES, **kw):
    params = SamplingParams(n=2, **kw)
    template = "Q: {question}\nA:"
    return sample_records(
        sampler, examples, template=template, params=params, out_dir=out_dir, source=source, shard_size=3
    )


def test_records_are_graded_and_ordered(tmp_path):
    records = run(Arithmetic(), tmp_path)
    assert len(records) == 20 and [r["id"] for r in records[:4]] == ["q0", "q0", "q1", "q1"]
    assert [r["correct"] for r in records[::2]] == [i % 2 == 0 for i in range(10)]
    assert records[0]["prompt"] == "Q: What is 0+0?\nA:" and records[0]["answer"] == "0"
    assert (tmp_path / "samples.jsonl").read_text().count("\n") == 20


def test_an_interrupted_run_resumes_from_finished_shards(tmp_path):
    with pytest.raises(RuntimeError, match="engine died"):
        run(Arithmetic(fail_on_call=3), tmp_path)
    assert sorted(p.name for p in (tmp_path / "shards").glob("0*.jsonl")) == ["00000.jsonl", "00001.jsonl"]
    assert not list((tmp_path / "shards").glob(".*tmp"))  # no half-written file left behind
    resumed = Arithmetic()
    records = run(resumed, tmp_path)
    assert resumed.calls == 2  # shards 2 and 3 only
    assert records == run(Arithmetic(), tmp_path / "whole")


def test_other_settings_in_the_same_folder_are_refused(tmp_path):
    run(Arithmetic(), tmp_path)
    with pytest.raises(ConfigError, match="other settings"):
        run(Arithmetic(), tmp_path, temperature=0.7)


def test_an_edited_question_under_the_same_id_is_refused(tmp_path):
    run(Arithmetic(), tmp_path)
    edited = [replace(EXAMPLES[0], question="What is 0+0? Think.")] + EXAMPLES[1:]
    with pytest.raises(ConfigError, match="other settings"):
        run(Arithmetic(), tmp_path, examples=edited)


def test_other_weights_under_the_same_name_are_sampled_again(tmp_path):
    """Shards of other weights are never reused: a rerun after the folder's weights changed samples every shard,
    also when the previous resample was interrupted."""
    run(Arithmetic(), tmp_path, source="sha256:old")
    with pytest.raises(RuntimeError, match="engine died"):
        run(Arithmetic(fail_on_call=2), tmp_path, source="sha256:new")
    assert not (tmp_path / "samples.jsonl").exists()  # the old weights' samples are gone, not left as if new
    new = Arithmetic()
    run(new, tmp_path, source="sha256:new")
    assert new.calls == 3  # shards 1-3: shard 0 was sampled with the new weights before the crash
    again = Arithmetic()
    run(again, tmp_path, source="sha256:new")
    assert again.calls == 0
