"""What a re-ranking score picks up within a question: correctness, sound calculations, or shorter solutions?

    python bench/rerank_diagnosis.py bench/out/multitask_toy/seed*/test/multitask

Each folder is an evaluation's test folder: sampled/samples.jsonl and one or more score files (scored.jsonl by a
trained verifier, likelihood/scored.jsonl by the generator's likelihood). For each score, the mean over questions
of the AUROC of the score for three labels among a question's own samples (what best-of-N and re-ranking use;
0.5 is no signal, below 0.5 the score prefers the other side): the sample is correct; every calculator
annotation holds; it has fewer calculations than the question's most common count. Also the share of wrong
samples a calculator catches (a calculation that does not hold) and the mean calculation count of correct and
wrong samples.
"""

import argparse
import json
import statistics
import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # mathlit, when run as a script

from mathlit.answers.calculator import calculations_hold, equations  # noqa: E402
from mathlit.metrics.verifier import within_question_auroc  # noqa: E402

SCORES = {"verifier": "scored.jsonl", "likelihood": "likelihood/scored.jsonl"}


def labels(samples: list[dict], counts: list[int]) -> dict[str, list[bool]]:
    """Per sample: correct, its calculations hold, fewer calculations (`counts`) than its question's most common."""
    by_question = defaultdict(list)
    for s, count in zip(samples, counts, strict=True):
        by_question[s["id"]].append(count)
    usual = {q: statistics.mode(c) for q, c in by_question.items()}
    return {
        "correct": [bool(s["correct"]) for s in samples],
        "calculations_hold": [calculations_hold(s["completion"]) for s in samples],
        "fewer_steps": [c < usual[s["id"]] for s, c in zip(samples, counts, strict=True)],
    }


def diagnose(folder: Path) -> dict:
    samples = [json.loads(line) for line in open(folder / "sampled" / "samples.jsonl")]
    counts = [len(equations(s["completion"])) for s in samples]
    qids, label = [s["id"] for s in samples], labels(samples, counts)
    wrong = [i for i, correct in enumerate(label["correct"]) if not correct]
    row = {
        "folder": str(folder),
        "wrong": len(wrong),
        "wrong_caught_by_calculator": sum(not label["calculations_hold"][i] for i in wrong) / max(1, len(wrong)),
        "calculations_correct": statistics.mean(c for c, ok in zip(counts, label["correct"], strict=True) if ok),
        "calculations_wrong": statistics.mean(counts[i] for i in wrong),
    }
    for scorer, file in SCORES.items():
        if not (folder / file).exists():
            continue
        score = {(r["id"], r["sample_idx"]): r["score"] for r in map(json.loads, open(folder / file))}
        scores = [score[(s["id"], s["sample_idx"])] for s in samples]
        for name, values in label.items():
            row[f"{scorer}_within_auroc_{name}"] = within_question_auroc(qids, scores, values)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", type=Path, nargs="+", help="test folders: sampled/samples.jsonl and score files")
    rows = [diagnose(folder) for folder in parser.parse_args().folders]
    keys = [k for k in rows[0] if k != "folder"]
    print("| folder | " + " | ".join(keys) + " |")
    print("|---" + "|---:" * len(keys) + "|")
    for row in rows:
        cells = [f"{row[k]:.3f}" if isinstance(row.get(k), float) else str(row.get(k)) for k in keys]
        print(f"| {row['folder']} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
