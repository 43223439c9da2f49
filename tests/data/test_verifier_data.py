"""Verifier data: balanced labelled candidates, same-question pairs, and their token fields."""

from mathlit.data.batching import pad_batch, target_tokens
from mathlit.data.formats import Example
from mathlit.data.tokenize import IGNORE
from mathlit.data.verifier import VerifierEncoder, make_candidates, make_pairs, step_labels, value_targets

QUESTIONS = [
    Example("a", "What is 2+3?", "2+3=5\n#### 5", "5", "gsm8k"),
    Example("b", "What is 4*2?", "4*2=8\n#### 8", "8", "gsm8k"),
    Example("c", "What is 9-1?", "9-1=8\n#### 8", "8", "gsm8k"),
]


def rec(question: int, completion: str, correct: bool) -> dict:
    return {"question": QUESTIONS[question].question, "completion": completion, "correct": correct}


RECORDS = [
    rec(0, "2+3=5 #### 5", True),
    rec(0, "3+2=5 #### 5", True),
    rec(0, "2+3=5 #### 5", True),  # an exact repeat: counted once
    rec(0, "2+3=6 #### 6", False),
    rec(1, "4*2=8 #### 8", True),
    rec(1, "4*2=8 #### 8", True),
    {"question": "a question not in the split", "completion": "x", "correct": True},
]


def test_candidates_balance_each_question_that_has_both_labels():
    items = make_candidates(RECORDS, QUESTIONS, include_reference=False)
    by_q = {q: [c for c in items if c.qid == q] for q in range(3)}
    assert sorted(c.correct for c in by_q[0]) == [False, True]  # 2 distinct correct, 1 wrong -> 1 + 1
    assert [(c.solution, c.correct) for c in by_q[1]] == [("4*2=8 #### 8", True)]  # one kind only: one of it
    assert by_q[2] == []  # no samples, no reference


def test_unbalanced_candidates_keep_every_distinct_solution_and_the_reference():
    items = make_candidates(RECORDS, QUESTIONS, balance=False, include_reference=True)
    q0 = [(c.solution, c.correct) for c in items if c.qid == 0]
    assert len(q0) == 4 and set(q0) == {
        ("2+3=5\n#### 5", True),
        ("2+3=5 #### 5", True),
        ("3+2=5 #### 5", True),
        ("2+3=6 #### 6", False),
    }
    assert [(c.solution, c.correct) for c in items if c.qid == 2] == [("9-1=8\n#### 8", True)]


def test_pairs_join_a_correct_and_an_incorrect_solution_of_the_same_question():
    pairs = make_pairs(RECORDS, QUESTIONS, max_per_question=8, include_reference=True)
    assert {(p.qid, p.good, p.bad) for p in pairs} == {
        (0, "2+3=5\n#### 5", "2+3=6 #### 6"),
        (0, "2+3=5 #### 5", "2+3=6 #### 6"),
        (0, "3+2=5 #### 5", "2+3=6 #### 6"),
    }  # questions 1 and 2 have no incorrect solution
    assert len(make_pairs(RECORDS, QUESTIONS, max_per_question=2)) == 2


def test_selection_is_a_function_of_the_seed():
    many = [rec(0, f"{i}+0=5 #### 5", True) for i in range(20)] + [rec(0, f"{i} #### 7", False) for i in range(3)]
    a, b = make_candidates(many, QUESTIONS, seed=1), make_candidates(many, QUESTIONS, seed=1)
    assert a == b and len(a) == 3 + 3 + 1 + 1  # question 0 balanced; 1 and 2: their reference alone
    assert a != make_candidates(many, QUESTIONS, seed=2)


def test_encoded_candidates_carry_the_eval_prompt_and_the_lm_target_of_correct_ones(tokenizer):
    template = "Q: {question}\nS: {solution}\nThe above candidate solution is"
    encoder = VerifierEncoder(tokenizer, template, "Question: {question}\nAnswer:", with_lm=True)
    items = make_candidates(RECORDS, QUESTIONS, balance=False, include_reference=False)
    encoded = encoder.candidates(items)
    for item, row in zip(items, encoded, strict=True):
        text = tokenizer.decode(row["input_ids"], skip_special_tokens=True)
        assert text.endswith("The above candidate solution is") and item.solution in text
        assert row["label"] == float(item.correct)
        if item.correct:  # the generation target ends with EOS
            assert row["lm_labels"][-1] == tokenizer.eos_token_id and target_tokens(row) > 1
        else:
            assert row["lm_labels"] == [IGNORE] and target_tokens(row) == 0


def test_pairs_pad_each_sequence_to_its_own_width_with_its_own_mask(tokenizer):
    encoder = VerifierEncoder(tokenizer, "{question} {solution} is", "{question}", with_lm=True)
    rows = encoder.pairs(make_pairs(RECORDS, QUESTIONS, include_reference=True))
    batch = pad_batch(rows, pad_id=tokenizer.pad_token_id)
    for field in ("input_ids", "bad_input_ids", "lm_input_ids"):
        prefix = field.removesuffix("input_ids")
        lengths = [len(r[field]) for r in rows]
        assert batch[field].shape == (len(rows), max(lengths))
        assert batch[prefix + "attention_mask"].sum(dim=1).tolist() == lengths
    assert (batch["lm_labels"][batch["lm_attention_mask"] == 0] == IGNORE).all()


def test_verifier_prompt_template_can_embed_the_generation_prompt():
    from mathlit.data.verifier import format_verifier_prompt, verifier_prompt_template
    from tests.conftest import make_cfg

    cfg = make_cfg("verifier.prompt_template='{prompt}{solution} The above candidate solution is'")
    text = format_verifier_prompt(verifier_prompt_template(cfg), "What is 2+3?", "2+3=5\n#### 5")
    assert text == "Question: What is 2+3?\nAnswer:\n2+3=5\n#### 5 The above candidate solution is"


SOLUTION = "She has 11-8=<<11-8=3>>3 apples.\nThen 3*2=<<3*2=7>>7.\nThen 7+1=<<7+1=8>>8.\n#### 8"


def test_process_labels_pin_a_wrong_outcome_on_the_step_of_its_first_bad_calculation():
    labels = step_labels(SOLUTION, correct=False, objective="process")
    second = SOLUTION.index("Then 3*2")
    assert set(labels[:second]) == {1} and set(labels[second:]) == {0}  # step 1 holds; 3*2=7 does not
    no_bad_step = "She has 11-8=<<11-8=3>>3 apples.\n#### 3"
    assert set(step_labels(no_bad_step, correct=False, objective="process")) == {0}  # the outcome, everywhere
    assert set(step_labels(SOLUTION, correct=True, objective="process")) == {1}
    assert set(step_labels(SOLUTION, correct=False, objective="token_level")) == {0}


def test_value_targets_label_the_solution_tokens_and_the_last_token_only(tokenizer):
    template = "Q: {question}\nA: {solution} The above candidate solution is"
    ids, targets = value_targets(tokenizer, template, "What is 3*2?", SOLUTION, False, "process")
    assert len(ids) == len(targets) and targets[-1] == 0
    labelled = [(tokenizer.decode([i]), t) for i, t in zip(ids, targets, strict=True) if t != IGNORE]
    text = "".join(piece for piece, _ in labelled[:-1])
    assert text.strip() == SOLUTION  # exactly the solution's tokens, then the last one
    first_wrong = next(k for k, (_, t) in enumerate(labelled) if t == 0)
    assert "".join(p for p, _ in labelled[:first_wrong]).strip() == SOLUTION[: SOLUTION.index("Then 3*2")].strip()
    assert all(t == 0 for _, t in labelled[first_wrong:])


def test_token_level_candidates_carry_targets_padded_with_ignore_and_no_lm_tokens(tokenizer):
    encoder = VerifierEncoder(
        tokenizer, "{question} {solution} ok?", "{question}", with_lm=False, objective="token_level"
    )
    items = make_candidates(RECORDS, QUESTIONS, balance=False, include_reference=False)
    batch = pad_batch(encoder.candidates(items), tokenizer.pad_token_id)
    assert batch["value_targets"].shape == batch["input_ids"].shape
    for row, mask, label in zip(batch["value_targets"], batch["attention_mask"], batch["label"], strict=True):
        scored = row[row != IGNORE]
        assert len(scored) > 2 and set(scored.tolist()) == {int(label)}
        assert (row[mask == 0] == IGNORE).all()  # padding is never a target
    assert all(target_tokens(e) == 0 for e in encoder.candidates(items))  # value targets are not LM targets
