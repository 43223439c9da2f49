"""answers.crosscheck: each sample graded by mathlit alone and by math-verify alone, the differences counted in
metrics.json and listed in a file beside the samples."""

import json

from mathlit.answers.crosscheck import DIFFER_FILE, crosscheck_metrics
from mathlit.answers.grading import Grading, grade_answer
from mathlit.data.formats import Example
from mathlit.sampling.base import Completion
from tests.conftest import make_cfg

CROSS = Grading("strict", 1e-6, "math_verify", crosscheck=True)
# (completion, gold, mathlit alone, math-verify alone)
SAMPLES = [
    (r"So $\boxed{7}$.", "7", True, True),
    (r"So $\boxed{8}$.", "7", False, False),
    ("The answer is 42.", "42", False, True),  # strict extraction reads no prose; math-verify does
    (r"\boxed{5;5}", "5", False, True),  # two answers; math-verify reads a set
    (r"We get $\boxed{x >= 2}$.", r"x \geq 2", False, True),  # mathlit alone misses it; the fallback reads it
]


def test_each_sample_carries_both_verdicts_and_the_graded_one():
    for text, gold, mathlit, math_verify in SAMPLES:
        graded = grade_answer(text, gold, "math", CROSS)
        assert graded["crosscheck"] == {"mathlit": mathlit, "math_verify": math_verify, "agree": mathlit == math_verify}
    last = grade_answer(SAMPLES[-1][0], SAMPLES[-1][1], "math", CROSS)
    assert last["correct"] is True and last["decided_by"] == "fallback"
    assert "crosscheck" not in grade_answer(SAMPLES[0][0], "7", "math", Grading("strict", 1e-6))


def test_the_report_counts_the_differences_and_lists_them(tmp_path):
    records = [
        {"id": f"q{i}", "sample_idx": 0, "completion": text, "gold": gold} | grade_answer(text, gold, "math", CROSS)
        for i, (text, gold, _, _) in enumerate(SAMPLES)
    ]
    report = crosscheck_metrics({"greedy": records, "sampled": []}, tmp_path)["crosscheck"]
    assert list(report) == ["greedy"]  # a pass without samples has no report
    greedy = report["greedy"]
    assert (greedy["samples"], greedy["differ"], greedy["only_math_verify_correct"]) == (5, 3, 3)
    assert greedy["accuracy_mathlit"] == 0.2 and greedy["accuracy_math_verify"] == 0.8
    assert greedy["accuracy_graded"] == 0.4 and greedy["decided_by_fallback"] == 1  # x >= 2; 5;5 is final
    rows = [json.loads(line) for line in (tmp_path / "greedy" / DIFFER_FILE).read_text().splitlines()]
    assert [r["id"] for r in rows] == ["q2", "q3", "q4"] and rows[0]["completion"] == "The answer is 42."


def test_without_crosscheck_the_report_adds_nothing(tmp_path):
    records = [grade_answer(text, gold, "math", Grading("strict", 1e-6)) for text, gold, _, _ in SAMPLES]
    assert crosscheck_metrics({"greedy": records, "sampled": None}, tmp_path) == {}
    assert not list(tmp_path.iterdir())


class Fixed:
    """A stand-in sampler writing the same completion for every prompt."""

    def __init__(self, text):
        self.text = text

    def generate(self, prompts, params):
        return [[Completion(self.text, 5, "stop") for _ in range(params.n)] for _ in prompts]

    def close(self):
        pass


def test_evaluation_reports_the_crosscheck_in_its_metrics(tmp_path):
    from mathlit.evaluation import evaluate
    from mathlit.sampling.policy import Policy

    cfg = make_cfg("answers.crosscheck=true", run_dir=tmp_path)
    examples = [Example(f"q{i}", "What is 6*7?", "6*7=42.", "42", "math") for i in range(3)]
    policy = Policy(cfg, None, sampler=Fixed("The answer is 42."), digest="sha256:a")
    metrics = evaluate(cfg, policy, examples, tmp_path, n=2)
    assert metrics["crosscheck"]["greedy"]["differ"] == 3 and metrics["crosscheck"]["sampled"]["differ"] == 6
    assert (tmp_path / "sampled" / DIFFER_FILE).read_text().count("\n") == 6
    off = Policy(make_cfg(), None, sampler=Fixed("x"), digest="sha256:a")
    assert "crosscheck" not in evaluate(make_cfg(), off, examples, tmp_path / "off")
