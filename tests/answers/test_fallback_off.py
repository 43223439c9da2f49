"""answers.fallback=none reproduces the verdicts mathlit gave before math-verify was its fallback, exactly.

verdicts_before_fallback.jsonl holds the verdicts of the code before the fallback (commit c319c12) on the suite's
extracted answers, the answer forms of the fallback's categories, MATH500's gold answers against each other and
rewritten, and seeded random LaTeX. Made by running this file as a script with that commit's mathlit on
PYTHONPATH: `python tests/answers/test_fallback_off.py`.
"""

import json
import random
import sys
from pathlib import Path

HERE = Path(__file__).parent
VERDICTS = HERE / "verdicts_before_fallback.jsonl"
TOKENS = (
    list("0123456789+-*/^_=(){}[],;.!|<>$%&~ xyzab")
    + ["\\frac", "\\sqrt", "\\text{ euros}", "\\left(", "\\right)", "\\pi", "\\infty", "\\cup", "\\le", ">=", "!="]
    + ["\\begin{pmatrix}", "\\end{pmatrix}", "\\begin{bmatrix}", "\\end{bmatrix}", "&", "\\\\", "\\pm", "\\{", "\\}"]
    + ["\\in", "\\neq", "\\geq", "x=", "y=", "1e", "{,}", "\\dfrac", "\\text{(B)}", "\\quad"]
)
FORMS = [  # the categories the fallback was added for, and its false positives
    ("x >= 5", "x \\geq 5"),
    ("x != 3", "x \\neq 3"),
    ("t<=-2", "t \\le -2"),
    ("\\begin{bmatrix}1\\\\2\\end{bmatrix}", "\\begin{pmatrix}1\\\\2\\end{pmatrix}"),
    ("\\left[\\begin{array}{cc}1&0\\\\0&1\\end{array}\\right]", "\\begin{pmatrix}1&0\\\\0&1\\end{pmatrix}"),
    ("(1,2)", "\\{1,2\\}"),
    ("x \\in [-2,7]", "-2 \\le x \\le 7"),
    ("x=2, y=3", "(2,3)"),
    ("2 \\text{ euros}", "2"),
    ("5;5", "5"),
    ("0,111", "0.111"),
    ("1e400", "1"),
    ("1,2,2", "1,2"),
]


def verdict_rows() -> list[tuple[str, str, str]]:
    """(pred, gold, domain) for every pair whose verdict is pinned."""
    from mathlit.answers import extract
    from mathlit.io import parse_jsonl

    rows = [(p, g, "math") for p, g in FORMS] + [(g, p, "math") for p, g in FORMS]
    for line in (HERE / "pairs.jsonl").read_text().splitlines():
        r = json.loads(line)
        answer = extract(r["response"], r["domain"], r["extract"])
        if answer is not None:
            rows.append((answer, r["gold"], r["domain"]))
    math500 = parse_jsonl(HERE.parents[1] / "mathlit" / "data" / "shipped" / "math" / "test500.jsonl", lambda r, _: r)
    answers = [r["answer"] for r in math500[0]]
    rows += [(answers[i], answers[(i + 1) % len(answers)], "math") for i in range(len(answers))]
    rng = random.Random(28)
    for _ in range(300):
        text = "".join(rng.choice(TOKENS) for _ in range(rng.randint(1, 12)))
        other = "".join(rng.choice(TOKENS) for _ in range(rng.randint(1, 12)))
        rows.append((text, other, rng.choice(("math", "gsm8k"))))
    return rows


def test_fallback_none_gives_the_verdicts_of_mathlit_before_the_fallback():
    from mathlit.answers.equiv import judge

    expected = [json.loads(line) for line in VERDICTS.read_text().splitlines()]
    assert len(expected) > 1000
    wrong = [
        (r["pred"], r["gold"], r["equal"])
        for r in expected
        if judge(r["pred"], r["gold"], r["domain"], fallback="none").equal is not r["equal"]
    ]
    assert wrong == []


def test_the_fallback_changes_some_of_those_verdicts_and_only_from_unequal_to_equal():
    from mathlit.answers import is_equiv

    expected = [json.loads(line) for line in VERDICTS.read_text().splitlines()[: 2 * len(FORMS)]]
    changed = [
        r for r in expected if is_equiv(r["pred"], r["gold"], r["domain"], fallback="math_verify") is not r["equal"]
    ]
    assert changed and all(not r["equal"] for r in changed)


if __name__ == "__main__":
    from mathlit.answers import is_equiv

    sys.stdout.write(f"writing {VERDICTS} with mathlit from {sys.modules['mathlit.answers'].__file__}\n")
    VERDICTS.write_text(
        "".join(
            json.dumps({"pred": p, "gold": g, "domain": d, "equal": is_equiv(p, g, d)}) + "\n"
            for p, g, d in verdict_rows()
        )
    )
