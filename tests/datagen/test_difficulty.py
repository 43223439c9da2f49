"""Prop2Diff (DART-Math): targets grow with the failure rate; short questions are sampled again until they reach it."""

import json

import pytest
import torch

from mathlit.data.formats import Example
from mathlit.data.splits import load_splits
from mathlit.data.tokenize import format_prompt
from mathlit.datagen.difficulty import by_difficulty, cap_to_targets, failure_rates, sample_until_targets, targets
from mathlit.datagen.rft import RFTDataGenerator
from mathlit.sampling.base import Completion
from mathlit.sampling.policy import Policy
from tests.conftest import make_cfg

QUESTIONS = [
    Example(q, f"question {q}", f"{q}: 1+1=<<1+1=2>>2\n#### 2", "2", "gsm8k") for q in ("easy", "hard", "never")
]


def record(qid: str, i: int, correct: bool) -> dict:
    # a distinct equation per sample: every correct one is a new path
    text = f"{i}+{2 - i}=<<{i}+{2 - i}=2>>2\n#### 2" if correct else "#### 3"
    return {"id": qid, "completion": text, "answer": "2" if correct else "3", "correct": correct, "domain": "gsm8k"}


def test_failure_rates_and_targets():
    first = [record("easy", i, True) for i in range(4)] + [record("hard", i, i == 0) for i in range(4)]
    failures = failure_rates(first, QUESTIONS)
    assert failures == {"easy": 0.0, "hard": 0.75, "never": 1.0}  # never sampled counts as failing
    assert targets(failures, 4) == {"easy": 1, "hard": 3, "never": 4}


def test_questions_are_resampled_until_their_target_or_the_budget():
    first = [record("easy", i, True) for i in range(4)]
    first += [record("hard", i, i == 0) for i in range(4)] + [record("never", i, False) for i in range(4)]
    asked = []

    def sample(questions, round_):
        asked.append((round_, [q.id for q in questions]))
        return [record(q.id, 10 * round_ + i, q.id == "hard") for q in questions for i in range(4)]

    records, goal = sample_until_targets(
        QUESTIONS, first, sample, min_correct=4, k=4, max_samples=16, dedup=True, with_reference=True
    )
    assert goal == {"easy": 1, "hard": 3, "never": 4}
    # hard: 1 path after round 1, 5 after round 2 (target 3); never: rounds until 16 tries
    assert asked == [(2, ["hard", "never"]), (3, ["never"]), (4, ["never"])]
    assert len(records) == 12 + 8 + 4 + 4


def test_the_cap_keeps_the_first_paths_up_to_each_target_and_the_buckets_report_them():
    augmented = [
        Example(f"{q}#rft{j}", "q", "s", "2", "gsm8k", {"rft_of": q}) for q in ("easy", "hard") for j in range(3)
    ]
    kept, count = cap_to_targets(augmented, {"easy": 1, "hard": 3, "never": 4})
    assert [e.id for e in kept] == ["easy#rft0", "hard#rft0", "hard#rft1", "hard#rft2"]
    report = by_difficulty({"easy": 0.0, "hard": 0.75, "never": 1.0}, count)
    assert report["0.00-0.25"] == {"questions": 1, "coverage": 1.0, "kept_mean": 1.0}
    assert report["0.75-1.00"] == {"questions": 2, "coverage": 0.5, "kept_mean": 1.5}
    assert report["0.25-0.50"]["questions"] == 0


class Engine:
    """Stands in for the engine: the first question is always right, the second only from round 2, the third never."""

    def __init__(self, questions, template):
        self.by_prompt = {format_prompt(template, q.question): (i, q) for i, q in enumerate(questions)}
        self.calls = []

    def generate(self, prompts, params):
        self.calls.append(len(prompts))
        out = []
        for p in prompts:
            i, q = self.by_prompt[p]
            right = i == 0 or (i == 1 and len(self.calls) > 1)
            a = int(q.answer)
            texts = [f"{a}+{j}-{j}=<<{a}+{j}-{j}={a}>>{a}\n#### {a}" if right else "#### -1" for j in range(params.n)]
            out.append([Completion(t, 5, "stop") for t in texts])
        return out

    def close(self):
        pass


def test_rft_data_samples_short_questions_again_under_prop2diff(tmp_path, tokenizer):
    cfg = make_cfg(
        "task=rft", "debug=fast", "rft.k=2", "rft.strategy=prop2diff", "rft.max_samples=6", "rft.min_correct=2"
    )
    questions = load_splits(cfg.data).train[:3]
    generator = RFTDataGenerator(cfg, tokenizer, questions, tmp_path)
    engine = Engine(questions, cfg.data.prompt_template)
    generator.policy = Policy(cfg, tokenizer, sampler=engine, digest="sha256:fake")  # no model here
    _, data = generator.generate(torch.nn.Linear(1, 1), 0, "round1")  # the engine stands in for the weights
    report = json.loads((tmp_path / "round1" / "report.json").read_text())
    # round 1: 1/0/0 right (targets 1, 2, 2); round 2: the second gets 2 paths; round 3: the third, its last 2 tries
    assert engine.calls == [3, 2, 1] and report["samples"] == 6 + 4 + 2
    assert report["strategy"] == "prop2diff" and report["targets_mean"] == pytest.approx(5 / 3)
    assert report["accepted"] == 1 + 2 and report["over_target"] == 1  # the first question's second path
    assert report["by_difficulty"]["0.00-0.25"] == {"questions": 1, "coverage": 1.0, "kept_mean": 1.0}
    assert report["by_difficulty"]["0.75-1.00"] == {"questions": 2, "coverage": 0.5, "kept_mean": 1.0}
    assert (tmp_path / "round1" / "samples_round3" / "samples.jsonl").exists()
