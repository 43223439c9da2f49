"""RFT filtering on hand-made paths: correctness, calculator checks, distinct paths, union across models."""

from mathlit.answers.calculator import calculations_hold, equations
from mathlit.data.formats import Example
from mathlit.datagen.filters import build_rft_data, select_paths, word_distance

REFERENCE = "Mia has 3+4=<<3+4=7>>7 apples.\nThen 7*2=<<7*2=14>>14.\n#### 14"


def path(text, correct=True, answer="14", i=0):
    return {"completion": text, "correct": correct, "answer": answer, "sample_idx": i, "question": "Q"}


def test_equations_are_ordered_and_spaceless_and_fall_back_to_inline_ones():
    assert equations(REFERENCE) == ["3+4=7", "7*2=14"]
    assert equations("First 3 + 4 = 7, then 7 * 2 = 14.") == ["3+4=7", "7*2=14"]
    assert equations("no calculation") == []


def test_calculator_annotations_must_hold():
    assert calculations_hold(REFERENCE)
    assert not calculations_hold("3+4=<<3+4=8>>8\n#### 14")
    assert not calculations_hold("<<open('x')=1>>")
    assert calculations_hold("<<10/3=3.3333>>")  # within 1e-3


def test_the_number_after_an_annotation_must_be_its_result():
    assert not calculations_hold("53-37=<<53-37=16>>17 apples.\n#### 16")  # a copy slip
    assert calculations_hold("It costs 2*5=$<<2*5=10>>10.")  # GSM8K writes money this way
    assert calculations_hold("so <<1200/100=12>>12, and <<-3+1=-2>>-2 degrees; <<2*600=1200>>1,200 in all")
    assert calculations_hold("<<3+4=7>> apples and <<3/4=3/4>>3/4 of them")  # nothing after it; a fraction


def test_rejections_by_reason_and_the_reference_counts_as_taken():
    records = [
        path(REFERENCE.replace("Mia", "She")),  # same equations as the reference
        path("4+3=<<4+3=7>>7, 2*7=<<2*7=14>>14\n#### 14", i=1),  # swapped operands: a new path
        path("3+4=<<3+4=7>>7, 7*2=<<7*2=15>>14\n#### 14", i=2),  # a bad annotation
        path("#### 12", correct=False, answer="12", i=3),
        path("I do not know", answer=None, i=4),
        path("so Je he Thenam5e+14oons", i=5),  # the right number, but no #### answer
    ]
    selection = select_paths(records, REFERENCE)
    assert [r["sample_idx"] for r in selection.kept] == [1]
    assert selection.rejected == {"duplicate": 1, "bad_calculation": 1, "wrong_answer": 1, "no_answer": 2}
    assert selection.correct == 2


def test_among_equal_keys_the_most_different_text_is_kept():
    a = "4+3=<<4+3=7>>7 so 2*7=<<2*7=14>>14\n#### 14"
    b = "We add: 4+3=<<4+3=7>>7 then double it: 2*7=<<2*7=14>>14 in all\n#### 14"
    kept = select_paths([path(a, i=0), path(b, i=1)], REFERENCE).kept
    assert [r["sample_idx"] for r in kept] == [1]
    assert word_distance(b, REFERENCE) > word_distance(a, REFERENCE)


def test_without_dedup_only_identical_texts_collapse():
    records = [path(REFERENCE, i=0), path(REFERENCE + " ", i=1), path(REFERENCE + " ", i=2)]
    assert [r["sample_idx"] for r in select_paths(records, REFERENCE, dedup=False).kept] == [1]


def test_union_pools_sources_by_question_and_dedups_across_them():
    q = Example("q1", "Q", REFERENCE, "14", "gsm8k")
    model_a = [path("4+3=<<4+3=7>>7 then 2*7=<<2*7=14>>14\n#### 14", i=0) | {"source": "a"}]
    model_b = [
        path("4+3=<<4+3=7>>7 then 2*7=<<2*7=14>>14 apples\n#### 14", i=0) | {"source": "b"},
        path("7*2 after 4+3: <<4+3=7>>, <<7*2=14>>\n#### 14", i=1) | {"source": "b"},
    ]
    alone = build_rft_data([model_a], [q])
    union = build_rft_data([model_a, model_b], [q])
    assert alone.report["accepted"] == 1 and union.report["accepted"] == 2
    assert union.report["rejected"]["duplicate"] == 1 and union.report["samples"] == 3
    assert {e.meta["source"] for e in union.augmented} == {"a", "b"}
    assert union.augmented[0].id == "q1#rft0" and union.augmented[0].answer == "14"
    assert union.report["distinct_paths_histogram"] == {"2": 1} and union.report["coverage"] == 1.0


def test_samples_whose_grading_failed_are_counted_and_never_kept():
    q = Example("q1", "Q", REFERENCE, "14", "gsm8k")
    failed = path("#### 14", correct=False, answer=None) | {"answer_error": "OverflowError: too large"}
    data = build_rft_data([[failed, path("4+3=<<4+3=7>>7 then 2*7=<<2*7=14>>14\n#### 14", i=1)]], [q])
    assert data.report["answer_errors"] == 1 and data.report["accepted"] == 1
