"""Answer checking, side by side in one run: mathlit alone, math-verify alone, and the two combined (mathlit's
fast path, math-verify as its bounded fallback: answers.fallback=math_verify, the default): agreement, false
positives and checks/s.

    python bench/answers.py                       # prints a table, writes bench/out/answers.json
                                                  # exits 1 on a false positive of mathlit or of the combination
    python bench/answers.py --problems 500        # the sampled sets on all of MATH500 (default 40 problems, CI)

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
- math500-sampled, gsm8k-sampled: 16 samples per problem shaped like an eval's of a small model, where most
  samples are wrong and every wrong one may reach the fallback: the gold solution ending in a rewritten gold
  answer (1 in 4), in another problem's answer or the gold with a number changed (3 in 5), cut off before its
  answer, or repeating itself. Constructed, not written by a model: the labels hold by construction.
All checkers run single-process on the same pairs; times include their start-up (mathlit's worker, and
math-verify's import in it for the combination). A false positive is a pair called equal that is not; a checker
that raises on a pair is counted as saying unequal.
"""

import json
import re
import sys
import time
from collections import Counter
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


def sampled_sets(problems: int, per_problem: int = 16) -> dict[str, list[tuple[str, str, str, bool, str]]]:
    """math500-sampled and gsm8k-sampled (see the module's docstring), seeded: the same pairs every run."""
    import random

    from mathlit.answers.extract import last_boxed

    rng = random.Random(28)
    math500, gsm8k = rows("math/test500.jsonl")[:problems], rows("gsm8k/test.jsonl")[:problems]
    math_pairs, gsm8k_pairs = [], []
    for i, r in enumerate(math500):
        gold, solution = r["answer"], r["solution"]
        cut = solution.rfind("\\boxed") if last_boxed(solution) is not None else len(solution)
        first = solution.find("\\boxed") if last_boxed(solution) is not None else len(solution)
        others = [o["answer"] for o in math500 if _items(o["answer"]) != _items(gold)]  # "1,-2" is "-2,1"
        for j in range(per_problem):
            draw = rng.random()
            if draw < 0.25:
                answer, equal = rewrite(gold, i + j) or gold, True
            elif draw < 0.85:
                answer, equal = _changed(gold, rng) if draw < 0.55 else rng.choice(others), False
            elif draw < 0.95:
                # cut off before its first box: an earlier box may hold the answer too
                math_pairs.append((solution[: int(first * rng.uniform(0.3, 0.9))], gold, "math", False, "strict"))
                continue
            else:
                math_pairs.append((solution[:first][:200] * 8, gold, "math", False, "strict"))
                continue
            math_pairs.append((f"{solution[:cut]}\\boxed{{{answer}}}.", gold, "math", equal, "strict"))
    for r in gsm8k:
        text, gold = r["answer"].rsplit("####", 1)
        gold = gold.strip()
        for _ in range(per_problem):
            draw = rng.random()
            if draw < 0.25:
                gsm8k_pairs.append((f"{text}#### {gold}", gold, "gsm8k", True, "strict"))
            elif draw < 0.85:
                wrong = int(gold.replace(",", "")) + rng.choice((-10, -2, -1, 1, 3, 100))
                gsm8k_pairs.append((f"{text}#### {wrong}", gold, "gsm8k", False, "strict"))
            else:  # cut off before the gold first appears (its last number is then never the gold)
                forms = {gold, f"{int(gold):,}"} if gold.lstrip("-").isdigit() else {gold}
                found = [m.start() for f in forms for m in re.finditer(rf"(?<![\d.,]){re.escape(f)}(?![\d.,])", text)]
                end = int(min(found, default=len(text)) * rng.uniform(0.2, 0.9))
                gsm8k_pairs.append((text[:end].rstrip("0123456789,.$"), gold, "gsm8k", False, "strict"))  # not "19"[:1]
    return {"math500-sampled": math_pairs, "gsm8k-sampled": gsm8k_pairs}


def _items(answer: str) -> list[str]:
    from mathlit.answers.normalize import normalize

    return sorted(normalize(answer).split(","))


def _changed(answer: str, rng) -> str:
    """The answer with its first integer changed (1 -> 2, 12 -> 13): unequal; a digitless one gets a "+1". (Not a
    later one: in 864 \\mbox{inches}^2 that is the unit's power, which answers leave to the reader.)"""
    m = re.search(r"\d+", answer)
    if m is None:
        return f"{answer}+1"
    return answer[: m.start()] + str(int(m.group()) + rng.choice((1, 2, 5))) + answer[m.end() :]


def mathlit_check(solution: str, gold: str, domain: str, mode: str) -> bool:
    from mathlit.answers import extract, is_equiv

    return is_equiv(extract(solution, domain, mode), gold, domain, fallback="none")


def combined_check(solution: str, gold: str, domain: str, mode: str) -> bool:
    """What every eval, RFT and reward grades with: answers.fallback=math_verify through grade_answer."""
    from mathlit.answers.grading import Grading, grade_answer

    graded = grade_answer(solution, gold, domain, Grading(mode, 1e-6, "math_verify"))
    FALLBACK_USE[graded.get("decided_by")] += 1
    return graded["correct"]


def math_verify_check(solution: str, gold: str, domain: str, mode: str) -> bool:
    from math_verify import parse, verify

    try:
        return verify(parse(f"${gold}$"), parse(solution))
    except Exception:  # noqa: BLE001 (a crash on a pair is that pair's "unequal")
        return False


def measure(check, pairs) -> tuple[list[bool], float]:
    """Each checker from cold caches: a fresh worker (its start counted), no verdict or parse remembered."""
    from math_verify.parser import parse_expr_cached, parse_latex_cached

    from mathlit.answers.equiv import _math_verdict
    from mathlit.answers.symbolic import checker

    _math_verdict.cache_clear()
    parse_latex_cached.cache_clear()
    parse_expr_cached.cache_clear()
    checker().close()
    started = time.perf_counter()
    results = [check(solution, gold, domain, mode) for solution, gold, domain, _, mode in pairs]
    return results, time.perf_counter() - started


CHECKERS = (("mathlit", mathlit_check), ("math-verify", math_verify_check), ("combined", combined_check))
FALLBACK_USE: Counter = Counter()  # decided_by of the combination's checks in the set in progress
GUARDED = ("mathlit", "combined")  # a false positive of either fails the run


def main() -> None:
    import argparse

    import math_verify  # noqa: F401  (fail early if the peer is missing: pip install math-verify)

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--problems", type=int, default=40, help="problems of the sampled sets (16 samples each)")
    args = parser.parse_args()
    sets = make_sets() | sampled_sets(args.problems)
    report = {}
    print(f"{'set':<20}{'pairs':>6}  {'checker':<12}{'agree':>8}{'false+':>8}{'checks/s':>11}{'fallback':>10}")
    for name, pairs in sets.items():
        expected = [p[3] for p in pairs]
        for checker, fn in CHECKERS:
            FALLBACK_USE.clear()
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
            } | ({"decided_by_fallback": FALLBACK_USE["fallback"]} if checker == "combined" else {})
            used = str(FALLBACK_USE["fallback"]) if checker == "combined" else ""
            print(
                f"{name:<20}{len(pairs):>6}  {checker:<12}{agree:>8}{false_positives:>8}"
                f"{len(pairs) / seconds:>11.1f}{used:>10}"
            )
        checkers = report[name]
        checkers["combined_speedup_over_math_verify"] = round(
            checkers["math-verify"]["seconds"] / max(checkers["combined"]["seconds"], 1e-9), 1
        )
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "answers.json").write_text(json.dumps(report, indent=2))
    for name in ("math500-sampled", "gsm8k-sampled"):
        print(f"{name}: the combination {report[name]['combined_speedup_over_math_verify']}x math-verify alone")
    wrong = [f"{name} ({c})" for name, checkers in report.items() for c in GUARDED if checkers[c]["false_positives"]]
    if wrong:  # CI runs this: a false positive fails it
        sys.exit(f"unequal answers called equal on: {', '.join(wrong)} (see {OUT / 'answers.json'})")


if __name__ == "__main__":
    main()
