"""Process labels by rollouts (Math-Shepherd): the first step from whose prefix no completion reaches the answer."""

from mathlit.data.formats import Example
from mathlit.data.verifier import make_candidates, step_labels
from mathlit.datagen.rollouts import first_wrong_steps, prefix_problems
from mathlit.sampling import Completion
from mathlit.sampling.policy import Policy
from tests.conftest import make_cfg

QUESTION = Example("q", "Tom has 3 boxes of 4 pens and gives away 2. How many pens are left?", "", "10", "gsm8k")
TEMPLATE = "Question: {question}\nAnswer:\n"
# Step 1 is right, step 2 goes wrong (12-3), step 3 follows from it.
WRONG = "He has 3*4=12 pens.\nHe gives away 12-3=9.\nSo 9 are left.\n#### 9"
RIGHT = "He has 3*4=12 pens.\nHe has 12-2=10 left.\n#### 10"


class Continuer:
    """A generator that finishes a prefix correctly exactly when the prefix has not yet gone wrong (what a
    strong rollout policy would do); it records the prompts it was given."""

    def __init__(self):
        self.prompts: list[str] = []

    def generate(self, prompts, params):
        self.prompts += prompts
        out = []
        for prompt in prompts:
            text = "#### 10" if "12-3" not in prompt else "#### 9"
            out.append([Completion(text, 3, "stop") for _ in range(params.n)])
        return out


def records():
    r = {"question": QUESTION.question, "gold": "10"}
    return [r | {"completion": WRONG, "correct": False}, r | {"completion": RIGHT, "correct": True}] * 2


def label(rows, sampler, out_dir, n=2, weights="w"):
    """First wrong steps from `sampler`'s rollouts, as a generator holding the weights named `weights`."""
    cfg = make_cfg(f"verifier.rollouts={n}", "verifier.temperature=0.7", "answers.extract=strict")
    generator = Policy(cfg, None, sampler=sampler, digest=weights)
    return first_wrong_steps(rows, [QUESTION], generator, template=TEMPLATE, out_dir=out_dir)


def test_each_proper_prefix_of_each_distinct_wrong_solution_is_one_rollout_problem():
    problems = prefix_problems(records(), [QUESTION], TEMPLATE)
    assert [p.question.split("Answer:\n")[1] for p in problems] == [
        "He has 3*4=12 pens.\n",
        "He has 3*4=12 pens.\nHe gives away 12-3=9.\n",
        "He has 3*4=12 pens.\nHe gives away 12-3=9.\nSo 9 are left.\n",
    ]
    assert all(
        p.answer == "10" and p.question.startswith(TEMPLATE.format(question=QUESTION.question)) for p in problems
    )


def test_the_first_unreachable_prefix_marks_the_first_wrong_step(tmp_path):
    sampler = Continuer()
    first = label(records(), sampler, tmp_path)
    assert first == {(QUESTION.question, WRONG): 1}  # step 2 (index 1): "He gives away 12-3=9."
    assert len(sampler.prompts) == 3 and (tmp_path / "samples.jsonl").exists()
    again = Continuer()  # a rerun reads the stored rollouts back: nothing is sampled twice
    assert label(records(), again, tmp_path) == first and again.prompts == []

    labelled = [r | ({"first_wrong_step": 1} if not r["correct"] else {}) for r in records()]
    [bad] = [c for c in make_candidates(labelled, [QUESTION], include_reference=False) if not c.correct]
    labels = step_labels(bad.solution, False, "process", bad.first_wrong_step)
    second = WRONG.index("He gives away")
    assert set(labels[:second]) == {1} and set(labels[second:]) == {0}


def test_a_wrong_solution_whose_every_prefix_can_still_finish_is_wrong_at_its_last_step(tmp_path):
    slip = "He has 3*4=12 pens.\nHe has 12-2=10 left.\n#### 11"  # only the answer line is wrong
    rows = [{"question": QUESTION.question, "completion": slip, "correct": False}]
    first = label(rows, Continuer(), tmp_path, n=1)
    assert first == {(QUESTION.question, slip): 2}
    labels = step_labels(slip, False, "process", 2)
    assert labels.count(0) == len("#### 11")


def test_blank_lines_are_not_steps_and_other_weights_rollouts_are_replaced(tmp_path):
    spaced = "He has 3*4=12 pens.\n\nHe gives away 12-3=9.\n\n#### 9"
    rows = [{"question": QUESTION.question, "completion": spaced, "correct": False}]
    assert len(prefix_problems(rows, [QUESTION], TEMPLATE)) == 2  # 3 steps: 2 proper prefixes, no blank ones
    assert label(rows, Continuer(), tmp_path) == {(QUESTION.question, spaced): 1}
    labels = step_labels(spaced, False, "process", 1)
    assert labels.index(0) == spaced.index("He gives away")
    # Another generator's wrong solutions (a rerun after its weights changed): its rollouts replace the old ones.
    rows = [{"question": QUESTION.question, "completion": WRONG, "correct": False}]
    first = label(rows, Continuer(), tmp_path, weights="other weights")
    assert first == {(QUESTION.question, WRONG): 1}


def test_rollout_labels_need_the_process_objective_pointwise_and_a_rollout(tmp_path):
    import pytest

    from mathlit.datagen.rollouts import check_process_labels
    from mathlit.errors import ConfigError

    ok = ["verifier.objective=process", "verifier.process_labels=rollouts"]
    check_process_labels(make_cfg(*ok).verifier)
    for bad, message in (
        (["verifier.process_labels=rollouts"], "labels the steps of verifier.objective=process"),
        ([*ok, "verifier=pairwise"], r"loss=pairwise\)"),
        ([*ok, "verifier.rollouts=0"], "verifier.rollouts=0: at least 1"),
    ):
        with pytest.raises(ConfigError, match=message):
            check_process_labels(make_cfg(*bad).verifier)
