"""Sampling runs: graded records in atomic shards; an interrupted run resumes without redoing work."""

import logging
from dataclasses import replace

import pytest

from mathlit.answers.grading import Grading
from mathlit.data.formats import Example
from mathlit.errors import ConfigError, DataError
from mathlit.sampling.base import Completion, SamplingParams
from mathlit.sampling.records import parse_part, read_samples, sample_records
from tests.conftest import make_cfg

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


GRADING = Grading("strict", 1e-6)


def run(sampler, out_dir, part=(0, 1), n=2, source="sha256:a", examples=EXAMPLES, **kw):
    params = SamplingParams(n=n, **kw)
    template = "Q: {question}\nA:"
    return sample_records(
        sampler,
        examples,
        template=template,
        params=params,
        out_dir=out_dir,
        grading=GRADING,
        source=source,
        shard_size=3,
        part=part,
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


def test_array_jobs_sample_their_own_shards_and_the_last_one_merges(tmp_path):
    first, second = Arithmetic(), Arithmetic()
    assert run(first, tmp_path, part=(0, 2)) is None  # shards 0 and 2 of 0-3; 1 and 3 are the other job's
    assert first.calls == 2 and not (tmp_path / "samples.jsonl").exists()
    assert run(second, tmp_path, part=(1, 2)) == run(Arithmetic(), tmp_path / "whole")
    assert second.calls == 2


def test_a_shard_with_other_samples_is_refused(tmp_path):
    run(Arithmetic(), tmp_path / "n1", n=1)
    run(Arithmetic(), tmp_path / "n2", part=(1, 2))
    for name in ("00000.jsonl", "00000.jsonl.sha256"):  # with its record: a shard intact, of other samples
        (tmp_path / "n1" / "shards" / name).replace(tmp_path / "n2" / "shards" / name)
    with pytest.raises(ConfigError, match="00000.jsonl: not the 2 samples of each of its 3 problems"):
        run(Arithmetic(), tmp_path / "n2")


@pytest.mark.parametrize("value", ["2/2", "1", "a/2", "-1/2"])
def test_a_bad_part_names_the_key(value):
    with pytest.raises(ConfigError, match=f"eval.shard={value}: expected i/n"):
        parse_part(value, "eval.shard")


def test_a_sample_whose_grading_fails_is_recorded_and_counted_not_fatal(tmp_path, monkeypatch):
    import mathlit.answers.grading as grading

    judge = grading.judge

    def broken(pred, gold, domain, rel_tol, fallback):
        if pred == "4":
            raise OverflowError("boom")
        return judge(pred, gold, domain, rel_tol, fallback)

    monkeypatch.setattr(grading, "judge", broken)
    records = run(Arithmetic(), tmp_path)
    failed = [r for r in records if "answer_error" in r]
    assert [r["id"] for r in failed] == ["q2", "q2"]
    assert failed[0]["answer_error"] == "OverflowError: boom" and failed[0]["correct"] is False
    assert failed[0]["answer_source"] == "error" and records[0]["answer_source"] == "hashes"
    assert len(records) == 20


def test_another_extraction_mode_is_other_settings(tmp_path):
    run(Arithmetic(), tmp_path)
    with pytest.raises(ConfigError, match="other settings"):
        sample_records(
            Arithmetic(),
            EXAMPLES,
            template="Q: {question}\nA:",
            params=SamplingParams(n=2),
            out_dir=tmp_path,
            grading=Grading("lenient", 1e-6),
            source="sha256:a",
            shard_size=3,
        )


def test_grading_comes_from_the_answers_config():
    assert Grading.from_config(make_cfg()) == Grading("strict", 1e-6, "math_verify", False)
    assert Grading.from_config(make_cfg("answers.extract=lenient", "answers.rel_tol=0")) == Grading("lenient", 0.0)
    off = make_cfg("answers.fallback=none", "answers.crosscheck=true")
    assert Grading.from_config(off) == Grading("strict", 1e-6, "none", True)
    with pytest.raises(Exception, match="answers.extract"):
        make_cfg("answers.extract=loose")
    with pytest.raises(Exception, match="answers.fallback"):
        make_cfg("answers.fallback=sympy")


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


def test_a_shard_edited_in_place_is_named_and_sampled_again(tmp_path, caplog):
    """Grades flipped to correct in a stored shard, still valid JSON: the rerun names the shard and samples it
    again instead of reporting the edited grades."""
    whole = run(Arithmetic(), tmp_path)
    shard = tmp_path / "shards" / "00001.jsonl"
    shard.write_text(shard.read_text().replace('"correct": false', '"correct": true'))
    again = Arithmetic()
    with caplog.at_level(logging.WARNING, logger="mathlit.sampling.records"):
        assert run(again, tmp_path) == whole
    assert again.calls == 1
    assert caplog.messages == [
        f"{shard}: its content no longer matches the SHA-256 recorded in {shard}.sha256: sampling it again"
    ]


def test_a_shard_without_its_record_is_sampled_again_by_the_job_that_meets_it(tmp_path):
    """A kill between a shard and its record, or a shard of an older mathlit: not trusted, and sampled by any job
    of an array, so the merging job never waits for a shard that no other job will redo."""
    run(Arithmetic(), tmp_path)
    (tmp_path / "shards" / "00001.jsonl.sha256").unlink()
    again = Arithmetic()
    assert run(again, tmp_path, part=(0, 2)) == run(Arithmetic(), tmp_path / "whole")
    assert again.calls == 1


def test_a_samples_file_edited_since_mathlit_wrote_it_is_refused_where_a_user_passes_it(tmp_path):
    run(Arithmetic(), tmp_path)
    samples = tmp_path / "samples.jsonl"
    samples.write_text(samples.read_text().replace('"correct": false', '"correct": true'))
    fields = ("question", "sample_idx", "completion", "correct")
    with pytest.raises(DataError) as refused:
        read_samples(samples, fields, "eval.samples_path")
    assert str(refused.value) == (
        f"{samples} (set by eval.samples_path): its content no longer matches the SHA-256 recorded in "
        f"{samples}.sha256; restore it, or remove samples.jsonl.sha256 if you edited it on purpose"
    )
    (tmp_path / "samples.jsonl.sha256").unlink()  # the user's own file: theirs to vouch for
    assert all(row["correct"] for row in read_samples(samples, fields, "eval.samples_path"))
