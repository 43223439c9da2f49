import pytest

from mathlit.metrics.steps import accuracy_by_steps, reasoning_steps


def test_steps_are_annotations_else_lines_before_the_answer():
    assert reasoning_steps("She has 2+3=<<2+3=5>>5.\nThen 5*2=<<5*2=10>>10.\n#### 10") == 2
    assert reasoning_steps("First, $x = 2$.\n\nSo $y = 4$.\nThus \\boxed{4}.") == 3
    assert reasoning_steps("2 + 3 = 5\n#### 5") == 1


def record(pid: str, idx: int, correct: bool) -> dict:
    return {"id": pid, "sample_idx": idx, "correct": correct}


def test_accuracy_by_steps_groups_problems_and_fits_p():
    # 1-step problems: 3 of 4 samples right; 2-step problems: 9 of 16 right: p = 0.75 fits both exactly.
    records = [record("a", i, i < 3) for i in range(4)] + [
        record(f"b{j}", i, 4 * j + i < 9) for j in range(4) for i in range(4)
    ]
    steps = {"a": 1, "b0": 2, "b1": 2, "b2": 2, "b3": 2, "unused": 3}
    result = accuracy_by_steps(records, steps)
    assert result["p"] == pytest.approx(0.75, abs=1e-6) and result["problems"] == 5
    assert result["by_steps"]["1"] == {
        "problems": 1,
        "accuracy": 0.75,
        "ci95": [0.75, 0.75],
        "fitted": pytest.approx(0.75),
    }
    two = result["by_steps"]["2"]
    assert two["problems"] == 4 and two["accuracy"] == 9 / 16 and two["fitted"] == pytest.approx(0.5625)
    assert two["ci95"][0] < 9 / 16 < two["ci95"][1]


def test_accuracy_by_steps_needs_problems_of_known_steps():
    assert accuracy_by_steps([record("x", 0, True)], {"y": 2}) is None
    assert accuracy_by_steps([record("x", 0, True)], {"x": 0}) is None
