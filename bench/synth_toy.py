"""Xwin-Math's synthetic questions at toy scale (issue 13): does an LM's synthetic data stand in for real data?

    python bench/synth_toy.py                  # teacher, task=synth twice, 6 student arms x 3 seeds (~90 min)
    python bench/synth_toy.py --seeds 1 2 3 --arms real synthetic_only real_4x

1. Teacher: the default tiny LLaMA trained longer (4,000 steps) on the full arith training set (solving) plus
   "write a new question like this one" pairs: two problems of another draw of arith's generator with the same
   person and item (never a test problem), the prompt in conf/synth_prompts/arith_toy.yaml.
2. `task=synth` with the teacher (vLLM): the seeds are the student's real base (the first quarter of the training
   set, 734 questions), 8 new questions each, 4 answers, majority label; duplicates of any training question,
   contaminated ones (arith, GSM8K and MATH test) and unlabelled ones rejected. Again with 1 answer per question
   and no majority threshold (the same created questions): the unfiltered arm's data; and with no filter at all
   (each question's one solution, its own answer as the label, calculations unchecked). The labels' accuracy is
   measured by reading the questions back with arith's grammar (true_answer).
3. Students (the default recipe, 1,600 steps of 16), seeds 1-3: real quarter; synthetic only (as many rows as the
   real quarter); real + 1x, 2x, 4x synthetic rows; real + 4x rows without the majority vote, and without any
   filter. Greedy accuracy on the 1,000 held-out problems, per seed and paired against the real arm.
Everything lands in bench/out/synth_toy/ (a finished run is read back); the table in bench/out/synth_toy.json.
"""

import argparse
import json
import random
import re
import shutil
import statistics
from pathlib import Path

from omegaconf import OmegaConf
from runs import run_once

from mathlit.data.arith import _is_test, make_problem
from mathlit.data.formats import Example, example_to_row, load_examples
from mathlit.data.splits import cap_synthetic
from mathlit.io import write_jsonl
from mathlit.metrics.intervals import mean_interval

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out" / "synth_toy"
BASE = 734  # data.train_fraction=0.25 of arith's 2,936 training problems: the front of one seed-free order
INSTRUCTION = "Write a new question like this one."
VLLM = ["sampler=vllm", "sampler.gpu_memory_utilization=0.2"]
SYNTH = ["task=synth", "data=arith", "synth_prompts=arith_toy", "synth.verify=false", f"synth.seeds={BASE}"]


def create_pairs(path: Path, pairs: int, seed: int = 4321) -> Path:
    """`pairs` rows "<question> Write a new question like this one." -> "CREATED QUESTION: <another>", the two
    drawn from arith's generator with another seed than the data's and sharing person and item."""
    rng, cfg = random.Random(seed), OmegaConf.load(ROOT / "conf" / "data" / "arith.yaml").arith
    groups: dict[tuple[str, str], list[str]] = {}
    while sum(len(g) for g in groups.values()) < 2 * pairs + 400:  # odd groups leave one out
        question, _, _ = make_problem(rng, cfg)
        if not _is_test(question):  # arith's test split is decided by the question's hash
            words = question.split()
            groups.setdefault((words[-3], words[-5]), []).append(question)  # "How many ITEM does NAME have now?"
    rows = []
    for key, questions in sorted(groups.items()):
        rng.shuffle(questions)
        for i in range(0, len(questions) - 1, 2):
            seed_q, new_q = questions[i], questions[i + 1]
            row = Example(
                f"create/{key[0]}/{key[1]}/{i}", f"{seed_q} {INSTRUCTION}", f"CREATED QUESTION: {new_q}", "0", "gsm8k"
            )
            rows.append(example_to_row(row))
    write_jsonl(path, rows[:pairs])
    return path


def teacher(steps: int, pairs: int) -> Path:
    data = create_pairs(OUT / "create_pairs.jsonl", pairs)
    settings = ["task=sft", "seed=1", f"trainer.max_steps={steps}", f"data.augment_paths=[{data}]"]
    run_once(OUT / "teacher", "metrics.json", [*settings, "trainer.progress_bar=false"])
    return OUT / "teacher" / "hf"


def synthesize(model: Path, name: str, overrides: list[str], copy_created_from: str | None = None) -> Path:
    folder = OUT / name
    if copy_created_from and not (folder / "create").exists():
        shutil.copytree(OUT / copy_created_from / "create", folder / "create")  # the same created questions
    run_once(folder, "synth_report.json", [*SYNTH, *VLLM, f"model.path={model}", "seed=1", *overrides])
    return folder


# The story grammar of mathlit/data/arith.py, read back: the true answer of a question an LM wrote in it.
STEPS_READ = (
    (re.compile(r"has (\d+) \w+ \w+ and (\d+) \w+ \w+$"), lambda v, a, b: a + b),
    (re.compile(r"has (\d+) \w+$"), lambda v, a: a),
    (re.compile(r"(?:buys|finds) (\d+) more"), lambda v, b: v + b),
    (re.compile(r"gives [A-Z][a-z]+ (\d+) "), lambda v, b: v + b),
    (re.compile(r"gives half of"), lambda v: v / 2),
    (re.compile(r"(?:gives|loses) (\d+) "), lambda v, b: v - b),
    (re.compile(r"uses (\d+) of the"), lambda v, b: v - b),
    (re.compile(r"doubles the number"), lambda v: 2 * v),
    (re.compile(r"triples the number"), lambda v: 3 * v),
)


def true_answer(question: str) -> int | None:
    """The answer of an arith-grammar question; None when a sentence is outside the grammar or the story breaks
    it (a negative or fractional amount): the check of the synthetic rows' labels."""
    *story, ask = re.split(r"(?<=[.?])\s+", question.strip())
    value = None
    for sentence in story if ask.startswith("How many") else []:
        match, step = next(((m, f) for p, f in STEPS_READ if (m := p.search(sentence.rstrip(".")))), (None, None))
        try:
            value = step(value, *map(int, match.groups()))
        except (AttributeError, TypeError):  # no pattern matched, or an operation before any amount
            return None
        if value < 0 or value != int(value):
            return None
    return None if value is None else int(value)


def raw_rows(folder: Path) -> Path:
    """No filter at all: every answered question's first solution, its own final answer as the label."""
    rows = []
    for r in map(json.loads, open(folder / "answer" / "samples.jsonl")):
        if r["sample_idx"] == 0 and r["answer"] is not None:
            meta = {"synthetic": True, "seed_id": r["id"].split("#")[0]}
            rows.append(
                example_to_row(
                    Example(f"{r['id']}/raw", r["question"], r["completion"].strip(), r["answer"], "gsm8k", meta)
                )
            )
    write_jsonl(folder / "raw.jsonl", rows)
    return folder / "raw.jsonl"


def trained_synthetic(path: Path, cap: int) -> dict:
    """The synthetic rows an arm trains on (data.synthetic_max's nested subset, chosen as training chooses it):
    how many, of how many questions, and the share whose label is the question's true answer (a question outside
    the grammar counts as wrong)."""
    examples, _ = load_examples(path, str(path), "error")
    kept = cap_synthetic(examples, cap, {})
    right = sum(str(true_answer(e.question)) == e.answer for e in kept)
    return {"rows": len(kept), "questions": len({e.question for e in kept}), "label_accuracy": right / len(kept)}


FILTERED, ONE_ANSWER, RAW = "synth/synthetic.jsonl", "synth_unfiltered/synthetic.jsonl", "synth_unfiltered/raw.jsonl"
ARMS = {  # name: (the synthetic file under OUT, data.synthetic_max, more overrides)
    "real": (None, None, []),
    "synthetic_only": (FILTERED, BASE, ["data.max_train_examples=0"]),
    "real_4x": (FILTERED, 4 * BASE, []),
    "real_4x_unfiltered": (ONE_ANSWER, 4 * BASE, []),  # 1 answer: no majority vote
    "real_1x": (FILTERED, BASE, []),
    "real_4x_raw": (RAW, 4 * BASE, []),  # no majority, no calculation check
    "real_2x": (FILTERED, 2 * BASE, []),
}


def student(arm: str, seed: int) -> dict:
    synth, cap, overrides = ARMS[arm]
    if synth:
        overrides = [*overrides, f"data.augment_paths=[{OUT / synth}]", f"data.synthetic_max={cap}"]
    settings = ["task=sft", f"seed={seed}", "data.train_fraction=0.25", "trainer.progress_bar=false", *overrides]
    metrics = json.loads(run_once(OUT / arm / f"seed{seed}", "metrics.json", settings).read_text())
    return {"greedy": metrics["greedy_accuracy"], "train": metrics["data"]["train"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--arms", nargs="+", default=list(ARMS), choices=list(ARMS))
    parser.add_argument("--teacher-steps", type=int, default=4000)
    parser.add_argument("--pairs", type=int, default=6000, help="create pairs in the teacher's training data")
    parser.add_argument("--per-seed", type=int, default=8, help="new questions per seed question")
    args = parser.parse_args()

    model = teacher(args.teacher_steps, args.pairs)
    created = [f"synth.per_seed={args.per_seed}"]
    synthesize(model, "synth", [*created, "synth.answers=4"])
    raw_rows(synthesize(model, "synth_unfiltered", [*created, "synth.answers=1", "synth.min_majority=0"], "synth"))

    table = {arm: {seed: student(arm, seed) for seed in args.seeds} for arm in args.arms}
    real = table.get("real", {})
    summary = {}
    for arm, runs in table.items():
        accuracy = [r["greedy"] for r in runs.values()]
        row = {"seeds": runs, "mean": statistics.mean(accuracy), "ci95": mean_interval(accuracy)}
        synth, cap, _ = ARMS[arm]
        if synth:
            row["synthetic"] = trained_synthetic(OUT / synth, cap)
        if real and arm != "real":
            row["gain_over_real"] = [runs[s]["greedy"] - real[s]["greedy"] for s in runs if s in real]
        summary[arm] = row
    reports = {
        name: json.loads((OUT / name / "synth_report.json").read_text()) for name in ("synth", "synth_unfiltered")
    }
    teacher_metrics = json.loads((OUT / "teacher" / "metrics.json").read_text())
    result = {"teacher_greedy": teacher_metrics["greedy_accuracy"], "synth": reports, "arms": summary}
    (OUT.parent / "synth_toy.json").write_text(json.dumps(result, indent=2))
    print(f"teacher greedy {result['teacher_greedy']:.3f}")
    for name, r in reports.items():
        print(f"{name}: {r['rows']} rows, {r['questions']} questions; funnel {r['funnel']}")
    for arm, row in summary.items():
        per_seed = " ".join(f"{r['greedy']:.3f}" for r in row["seeds"].values())
        synthetic = row.get("synthetic")
        data = f"{synthetic['rows']} synthetic rows of {synthetic['questions']} questions, " if synthetic else ""
        data += f"{100 * synthetic['label_accuracy']:.1f}% true labels; " if synthetic else ""
        print(f"{arm:<20} {data}mean {row['mean']:.3f}  seeds {per_seed}  gain {row.get('gain_over_real', '')}")


if __name__ == "__main__":
    main()
