"""What RFT's accepted paths teach at toy scale: how each differs from its question's reference solution.

    python bench/rft_paths.py bench/out/rft_toy/default/seed1 [more run folders ...]

For every path in <run>/rft/round1/augmented.jsonl: the same calculations with the operands of + or * swapped,
the same calculations in another order, or other calculations; and whether it names an item the question
does not mention (a wrong noun: `48 flowers` for eggs), which the answer filter cannot see.
"""

import argparse
import json
import re
from collections import Counter
from pathlib import Path

from hydra import compose, initialize_config_module

import mathlit.config  # noqa: F401  (schema and resolvers)
from mathlit.answers.calculator import equations
from mathlit.data.arith import ITEMS
from mathlit.data.splits import load_splits

_COMMUTATIVE = re.compile(r"^(\d+)([+*])(\d+)=(.*)$")


def canonical(equation: str) -> str:
    """a+b=c and b+a=c (likewise *) as one calculation."""
    m = _COMMUTATIVE.match(equation)
    if not m:
        return equation
    a, op, b, c = m.groups()
    a, b = sorted((a, b), key=int)
    return f"{a}{op}{b}={c}"


def kind(path: str, reference: str) -> str:
    mine, theirs = equations(path), equations(reference)
    if mine == theirs:
        return "same calculations, other words"
    canon_mine, canon_theirs = [canonical(e) for e in mine], [canonical(e) for e in theirs]
    if canon_mine == canon_theirs:
        return "operands swapped"
    if sorted(canon_mine) == sorted(canon_theirs):
        return "steps reordered"
    return "other calculations"


def wrong_noun(path: str, question: str) -> bool:
    words = set(re.findall(r"[a-z]+", path.lower()))
    return any(item in words and item not in question.lower() for item in ITEMS)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", type=Path, nargs="+", help="task=rft run folders")
    args = parser.parse_args()
    with initialize_config_module("mathlit.conf", version_base="1.3"):
        cfg = compose("config", overrides=["run_dir=unused"])
    references = {e.question: e.solution for e in load_splits(cfg.data).train}
    for run in args.runs:
        rows = [json.loads(line) for line in (run / "rft" / "round1" / "augmented.jsonl").open()]
        kinds = Counter(kind(r["solution"], references[r["question"]]) for r in rows)
        nouns = sum(wrong_noun(r["solution"], r["question"]) for r in rows)
        shares = ", ".join(f"{k} {100 * n / len(rows):.1f}%" for k, n in kinds.most_common())
        print(f"{run}: {len(rows)} paths: {shares}; wrong noun {nouns} ({100 * nouns / len(rows):.1f}%)")


if __name__ == "__main__":
    main()
