"""Answer checking, mathlit against math-verify, side by side in one run: agreement and checks/s.

    python bench/answers.py                       # prints a table, writes bench/out/answers.json
                                                  # exits 1 if mathlit has a false positive (make bench-answers, CI)

Sets (each check = extract the answer from a solution text, then compare it with a gold answer):
- math500-gold: the 500 MATH500 gold solutions against their gold answers (all must be equal);
- gsm8k-gold: the 1,319 GSM8K test solutions against the number after ####;
- math500-rewritten: each MATH500 answer rewritten the way models write it (\\dfrac, spacing, \\left( \\right),
  decimals, "x =" prefixes, units), boxed in a sentence: all equal by construction;
- math500-different: each MATH500 solution against the gold answer of the next problem whose answer differs
  after normalisation: unequal by construction;
- suite: tests/answers/pairs.jsonl, the labelled regression suite (thousands separators, choices, units, labels,
  inequalities, intervals, lists, several boxes, equations up to a factor, decimals vs exact golds, GSM8K forms,
  degenerate output, prose answers read with answers.extract=lenient, MATH and GSM8K golds): equal and unequal.
  suite-policy: its rows whose label is mathlit's rule, not mathematics (strict mode reads no prose; an
  ambiguous decimal comma such as "#### 0,111" is refused; "5;5" is two answers): math-verify has no such rule.
Both checkers run single-process on the same pairs; times include their start-up (mathlit's worker). A false
positive is a pair called equal that is not; a checker that raises on a pair is counted as saying unequal.
"""

import json
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATA = ROOT / "mathlit" / "data" / "shipped"
OUT = ROOT / "bench" / "out"
SUITE = ROOT / "tests" / "answers" / "pairs.jsonl"


def rows(name: str) -> list[dict]:
    from mathlit.io import parse_jsonl

    return parse_jsonl(DATA / name, lambda row, _: row)[0]


THOUSANDS = re.compile(r"\d,(\\!)?\s?\d{3}")  # 10,\!080: a separator, not a list


def rewrite(answer: str, i: int) -> str | None:
    """An equal answer written differently, or None when no rewrite applies."""
    m = re.fullmatch(r"\\frac\{(\d+)\}\{(2|4|5|8|10|20|25)\}", answer)
    options = [
        answer.replace("\\frac", "\\dfrac") if "\\frac" in answer else None,
        f"{int(m.group(1)) / int(m.group(2)):g}" if m else None,
        answer.replace("(", "\\left( ").replace(")", " \\right)") if "(" in answer and "\\left" not in answer else None,
        answer.replace(",", ", ") if "," in answer and ", " not in answer and not THOUSANDS.search(answer) else None,
        f"x = {answer}" if re.fullmatch(r"-?\d+", answer) and i % 2 else None,
        f"{answer}.0" if re.fullmatch(r"-?\d+", answer) else None,
        f"{answer} \\text{{ cm}}" if re.fullmatch(r"\d+", answer) else None,
    ]
    for j in range(len(options)):
        choice = options[(i + j) % len(options)]
        if choice is not None:
            return choice
    return None


def make_sets() -> dict[str, list[tuple[str, str, str, bool, str]]]:
    """name -> [(solution text, gold answer, domain, expected, extraction mode)]."""
    from mathlit.answers.normalize import normalize

    math500, gsm8k = rows("math/test500.jsonl"), rows("gsm8k/test.jsonl")
    sets = {
        "math500-gold": [(r["solution"], r["answer"], "math", True, "strict") for r in math500],
        "gsm8k-gold": [(r["answer"], r["answer"].rsplit("####", 1)[1].strip(), "gsm8k", True, "strict") for r in gsm8k],
        "math500-rewritten": [],
        "math500-different": [],
    }
    for i, r in enumerate(math500):
        new = rewrite(r["answer"], i)
        if new is not None:
            sets["math500-rewritten"].append(
                (f"So the answer is $\\boxed{{{new}}}$.", r["answer"], "math", True, "strict")
            )
        others = math500[i + 1 :] + math500[:i]
        other = next(o["answer"] for o in others if normalize(o["answer"]) != normalize(r["answer"]))
        sets["math500-different"].append((r["solution"], other, "math", False, "strict"))
    with open(SUITE) as f:
        suite = [json.loads(line) for line in f]
    for name, policy in (("suite", False), ("suite-policy", True)):
        chosen = [r for r in suite if r.get("policy", False) is policy]
        sets[name] = [(r["response"], r["gold"], r["domain"], r["equal"], r["extract"]) for r in chosen]
    return sets


def mathlit_check(solution: str, gold: str, domain: str, mode: str) -> bool:
    from mathlit.answers import extract, is_equiv

    return is_equiv(extract(solution, domain, mode), gold, domain)


def math_verify_check(solution: str, gold: str, domain: str, mode: str) -> bool:
    from math_verify import parse, verify

    try:
        return verify(parse(f"${gold}$"), parse(solution))
    except Exception:  # noqa: BLE001 (a crash on a pair is that pair's "unequal")
        return False


def measure(check, pairs) -> tuple[list[bool], float]:
    started = time.perf_counter()
    results = [check(solution, gold, domain, mode) for solution, gold, domain, _, mode in pairs]
    return results, time.perf_counter() - started


def main() -> None:
    import math_verify  # noqa: F401  (fail early if the peer is missing: pip install math-verify)

    sets = make_sets()
    report = {}
    print(f"{'set':<20}{'pairs':>6}  {'checker':<12}{'agree':>8}{'false+':>8}{'checks/s':>11}")
    for name, pairs in sets.items():
        expected = [p[3] for p in pairs]
        for checker, fn in (("mathlit", mathlit_check), ("math-verify", math_verify_check)):
            results, seconds = measure(fn, pairs)
            agree = sum(r == e for r, e in zip(results, expected, strict=True))
            false_positives = sum(r and not e for r, e in zip(results, expected, strict=True))
            misses = [pairs[i][:2] for i, (r, e) in enumerate(zip(results, expected, strict=True)) if r != e]
            report.setdefault(name, {})[checker] = {
                "pairs": len(pairs),
                "agree": agree,
                "false_positives": false_positives,
                "seconds": round(seconds, 3),
                "checks_per_s": round(len(pairs) / seconds, 1),
                "misses": [(solution[-80:], gold) for solution, gold in misses[:30]],
            }
            print(
                f"{name:<20}{len(pairs):>6}  {checker:<12}{agree:>8}{false_positives:>8}{len(pairs) / seconds:>11.1f}"
            )
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "answers.json").write_text(json.dumps(report, indent=2))
    wrong = [name for name, checkers in report.items() if checkers["mathlit"]["false_positives"]]
    if wrong:  # CI runs this: a false positive fails it
        sys.exit(f"mathlit called unequal answers equal on: {', '.join(wrong)} (see {OUT / 'answers.json'})")


if __name__ == "__main__":
    main()
