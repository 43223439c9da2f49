"""A generative verifier's checks: built from a candidate's annotations, read back from written checks, attached
to candidates, and encoded so that training and scoring see the same tokens before the verdict."""

import pytest

from mathlit.data.rationales import candidate_rationale, check_template_parts, split_verdict, verdict_ids
from mathlit.data.verifier import Candidate, VerifierEncoder, attach_rationales
from mathlit.errors import ConfigError
from mathlit.modules.verifier import word_token
from tests.conftest import make_cfg

TEMPLATE = make_cfg().verifier.generative_template
STEM = "\nThe above candidate solution is"


@pytest.mark.parametrize(
    ("solution", "check"),
    [
        (  # correct
            "She has 8+5=<<8+5=13>>13 apples.\nThen 13*2=<<13*2=26>>26.\n#### 26",
            " 8+5=13 correct. 13*2=26 correct. the answer 26 is the last result.",
        ),
        (  # one slip, carried on
            "He has 53-37=<<53-37=17>>17 left.\nThen 17+5=<<17+5=22>>22.\n#### 22",
            " 53-37=17 wrong, it is 16. 17+5=22 correct. the answer 22 is the last result.",
        ),
        (  # a copy slip after a correct annotation
            "He has 53-37=<<53-37=16>>17 left.\nThen 17+5=<<17+5=22>>22.\n#### 22",
            " 53-37=16 correct, but 17 is written. 17+5=22 correct. the answer 22 is the last result.",
        ),
        (  # no annotation
            "She has 8 and 5 more, so 13 apples.\n#### 13",
            " no calculations to check. the answer is 13.",
        ),
        (  # sound steps, but the answer is not what they computed
            "10-6=<<10-6=4>>4 eggs, then 4*3=<<4*3=12>>12 eggs.\n#### 11",
            " 10-6=4 correct. 4*3=12 correct. the answer 11 is not the last result 12.",
        ),
        ("Half of 7 is 7/2=<<7/2=3.5>>3.5\n#### 3.5", " 7/2=3.5 correct. the answer 3.5 is the last result."),
        ("<<7/0=1>>1\n#### 1", " 7/0=1 cannot be computed. the answer is 1."),
    ],
)
def test_a_candidate_rationale_recomputes_each_calculation_then_checks_the_answer(solution, check):
    assert candidate_rationale(solution) == check


@pytest.mark.parametrize(
    ("solution", "check"),
    [
        (
            "She has 8+5=<<8+5=13>>13 apples.\n#### 13",
            " 8+5=13, it says 13: correct. the last result is 13, the answer is 13: correct.",
        ),
        (
            "He has 53-37=<<53-37=17>>17 left.\nThen 17+5=<<17+5=22>>22.\n#### 22",
            " 53-37=16, it says 17: wrong. 17+5=22, it says 22: correct."
            " the last result is 22, the answer is 22: correct.",
        ),
        (
            "He has 53-37=<<53-37=16>>17 left.\n#### 17",
            " 53-37=16, it says 16 then 17: wrong. the last result is 16, the answer is 17: wrong.",
        ),
        ("She has 8 and 5 more, so 13 apples.\n#### 13", " no calculations to check. the answer is 13."),
    ],
)
def test_a_recomputed_rationale_writes_the_true_result_before_the_claim(solution, check):
    assert candidate_rationale(solution, style="recompute") == check


def test_a_math_solution_without_annotations_is_checked_for_its_boxed_answer():
    assert candidate_rationale("So $x=\\boxed{3}$.", "math") == " no calculations to check. the answer is 3."
    assert candidate_rationale("So x is three.", "math") == " no calculations to check. no final answer is given."


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (" 1+1=2 correct.\nThe above candidate solution is correct", (" 1+1=2 correct.", True)),
        (" 1+1=3 wrong.\nThe above candidate solution is incorrect.", (" 1+1=3 wrong.", False)),
        (" checks. The above candidate solution is fine", (" checks.", None)),
        (" cut off before the verdi", (" cut off before the verdi", None)),
    ],
)
def test_a_written_check_splits_into_its_rationale_and_verdict(text, expected):
    assert split_verdict(text, STEM, " correct", " incorrect") == expected


def test_the_generative_template_needs_one_rationale_slot_and_a_verdict_stem():
    assert check_template_parts(TEMPLATE)[1] == STEM
    with pytest.raises(ConfigError, match="verifier.generative_template"):
        check_template_parts("Q: {question} {solution}")
    with pytest.raises(ConfigError, match="verdict stem"):
        check_template_parts("Q: {question} {solution} Check:{rationale}")


def candidates() -> list[Candidate]:
    return [
        Candidate(0, "What is 2+3?", "2+3=<<2+3=5>>5\n#### 5", True),
        Candidate(0, "What is 2+3?", "2+3=<<2+3=6>>6\n#### 6", False),
    ]


def test_rationales_attach_from_the_candidate_none_or_a_teacher_whose_verdict_is_the_label():
    good, bad = candidates()
    built = attach_rationales([good, bad], "candidate")
    assert [c.rationale for c in built] == [candidate_rationale(good.solution), candidate_rationale(bad.solution)]
    recomputed = attach_rationales([bad], "candidate", style="recompute")
    assert recomputed[0].rationale == candidate_rationale(bad.solution, style="recompute")
    assert [c.rationale for c in attach_rationales([good, bad], "none")] == ["", ""]
    teacher = {
        (good.question, good.solution): [(" says wrong", False), (" says right", True)],
        (bad.question, bad.solution): [(" unreadable", None), (" says right", True)],
    }
    # Training: a check whose verdict is the label, else the candidate is dropped (GenRM's filter).
    [kept] = attach_rationales([good, bad], "teacher", teacher)
    assert kept.solution == good.solution and kept.rationale == " says right"
    # Validation: the label must not choose: the first readable check.
    val = attach_rationales([good, bad], "teacher", teacher, training=False)
    assert [c.rationale for c in val] == [" says wrong", " says right"]


def test_training_targets_the_check_and_verdict_and_scoring_reads_the_same_prefix(tokenizer):
    items = attach_rationales(candidates(), "candidate")
    encoder = VerifierEncoder(tokenizer, TEMPLATE, "{question}", with_lm=False, objective="generative")
    yes, no = word_token(tokenizer, " correct"), word_token(tokenizer, " incorrect")
    for c, row in zip(items, encoder.candidates(items), strict=True):
        prefix = verdict_ids(tokenizer, TEMPLATE, c.question, c.solution, c.rationale)
        assert row["input_ids"] == prefix
        ids, labels = row["check_input_ids"], row["check_labels"]
        assert ids[: len(prefix)] == prefix and ids[len(prefix)] == (yes if c.correct else no)
        targets = [t for t in labels if t != -100]
        # The rationale, the verdict stem, the verdict word and EOS are the targets; the prompt is not.
        assert tokenizer.decode(targets[:-1]).startswith(c.rationale + STEM)
        assert targets[-1] == tokenizer.eos_token_id and labels[len(prefix)] == ids[len(prefix)]
        assert "Here is a math problem" not in tokenizer.decode(targets)
