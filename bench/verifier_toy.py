"""Verifier re-ranking at toy scale: greedy, maj@N, the generator's likelihood and trained verifiers per objective.

    python bench/seed_spread.py --seeds 1 2 3 --name bs16_1600             # the generators (default recipe)
    python bench/verifier_toy.py --generators bench/out/seed_spread/bs16_1600 --seeds 1 2 3 \
        --objectives last_token token_level process                        # ~10 min a seed, then ~4 min an arm
    python bench/verifier_toy.py optim.lr=3e-4 --generators ... --objectives last_token --tag lr3e-4   # an ablation
    python bench/verifier_toy.py --generators bench/out/seed_spread/default --objectives generative   # GenRM
    python bench/verifier_toy.py verifier.rationale=none --generators ... --objectives generative --tag direct

Each (seed, objective) runs `python -m mathlit task=verifier verifier.objective=<objective>` into
bench/out/verifier_toy/<objective>/seed<S>/ with that seed's finished SFT run as the generator. The first
objective samples the candidates (verifier.samples_per_question per training and validation question) and the
test solutions (greedy and eval.n samples); the other objectives reuse them (copied: stored samples are reused
only for the same weights and settings, see mathlit.sampling.records), so every arm re-ranks the same samples.
A finished run is read back, not re-run. Reports per seed and as mean ± sd: greedy, maj@N, pass@N, best-of-N,
weighted vote and cluster re-ranking by the trained verifier, by the generator's likelihood and by the
calculator's check (its weighted vote is "the calculator's vote"), and the scores' AUROC on the test samples,
pooled and within a question; bench/out/verifier_toy/summary.json.
"""

import argparse
import json
import shutil
import statistics
import sys
from pathlib import Path

from runs import run_once, seed_sd

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out" / "verifier_toy"
sys.path.insert(0, str(ROOT))  # mathlit, when run as a script
SELECTIONS = ("best_of", "weighted", "cluster")
REUSED = ("candidates", "test/greedy", "test/sampled")


def test_scores(run_dir: Path, scored: str) -> dict:
    """How a score file ranks the test samples: AUROC pooled and within a question (what best-of-N and
    re-ranking use), and the repeats profile."""
    from mathlit.metrics.verifier import auroc, within_question_auroc

    samples = {(r["id"], r["sample_idx"]): r for r in map(json.loads, open(run_dir / "test/sampled/samples.jsonl"))}
    rows = [json.loads(line) for line in open(run_dir / "test" / scored)]
    qids, scores = [r["id"] for r in rows], [r["score"] for r in rows]
    matched = [samples[(r["id"], r["sample_idx"])] for r in rows]
    labels, texts = [bool(m["correct"]) for m in matched], [m["completion"] for m in matched]
    return {
        "auroc": auroc(scores, labels),
        "within_auroc": within_question_auroc(qids, scores, labels),
        "repeats": repeats(qids, scores, labels, texts),
    }


def repeats(qids: list[str], scores: list[float], labels: list[bool], texts: list[str]) -> dict:
    """Over the questions with at least 2 correct and 2 wrong samples: distinct texts per sample and the spread
    (sd) of the scores, correct vs wrong. Correct samples that repeat one path share one score, so the top of N
    scores that carry no signal lands on a wrong sample more often than chance."""
    groups: dict[tuple[str, bool], list[tuple[float, str]]] = {}
    for q, score, label, text in zip(qids, scores, labels, texts, strict=True):
        groups.setdefault((q, label), []).append((score, text))
    profile: dict[str, list[float]] = {}
    mixed = [q for q in dict.fromkeys(qids) if min(len(groups.get((q, y), ())) for y in (True, False)) >= 2]
    for q in mixed:
        for name, label in (("correct", True), ("wrong", False)):
            members = groups[(q, label)]
            profile.setdefault(f"{name}_distinct_per_sample", []).append(len({t for _, t in members}) / len(members))
            profile.setdefault(f"{name}_score_sd", []).append(statistics.pstdev(s for s, _ in members))
    return {"questions": len(mixed)} | {key: statistics.mean(values) for key, values in profile.items()}


def check_fidelity(run_dir: Path) -> dict | None:
    """A generative verifier's own checks of the distinct test samples against the calculator's (None for other
    objectives): the share written exactly as candidate_rationale builds it, and how often a check says a
    calculation is wrong ("wrong" or "but ... is written") for samples with a slip and for sound ones."""
    from mathlit.answers.calculator import calculations_hold
    from mathlit.data.rationales import candidate_rationale, check_prompt, check_template_parts, split_verdict

    path = run_dir / "test/checks/samples.jsonl"
    if not path.exists():
        return None
    spec = json.loads((run_dir / "verifier/hf/verifier.json").read_text())
    template, stem = spec["prompt_template"], check_template_parts(spec["prompt_template"])[1]
    samples = map(json.loads, open(run_dir / "test/sampled/samples.jsonl"))
    solution = {str(check_prompt(template, r["question"], r["completion"])): r["completion"] for r in samples}
    counts = {"checks": 0, "exact": 0, "slips": 0, "slips_flagged": 0, "sound": 0, "sound_flagged": 0}
    for row in map(json.loads, open(path)):
        text = solution[row["question"]]
        written = split_verdict(row["completion"], stem, spec["yes_word"], spec["no_word"])[0]
        flagged = any(word in written for word in ("wrong", ", but ", " is not the last result"))
        kind = "sound" if calculations_hold(text) else "slips"
        counts["checks"] += 1
        built = candidate_rationale(text, style=spec.get("rationale_style", "restate"))
        counts["exact"] += written.strip() == built.strip()
        counts[kind] += 1
        counts[f"{kind}_flagged"] += flagged
    return counts


def run_arm(seed: int, objective: str, first: str, generators: Path, n: int, overrides: list[str], tag: str) -> dict:
    run_dir, source = OUT / (f"{objective}_{tag}" if tag else objective) / f"seed{seed}", OUT / first / f"seed{seed}"
    if run_dir != source:  # an arm without the untagged first run's samples draws its own
        for part in REUSED:
            if (source / part).exists() and not (run_dir / part).exists():
                shutil.copytree(source / part, run_dir / part)
    settings = [
        "task=verifier",
        f"seed={seed}",
        f"verifier.objective={objective}",
        f"verifier.generator_path={generators / f'seed{seed}' / 'hf'}",
        f"eval.n={n}",
        "sampler=vllm",
        "sampler.gpu_memory_utilization=0.2",
    ]
    metrics = json.loads(run_once(run_dir, "metrics.json", [*settings, *overrides]).read_text())
    trained, likelihood = metrics["rerank"], metrics["rerank_likelihood"]
    row = {"seed": seed, "objective": f"{objective} {tag}".strip(), "greedy": metrics["greedy_accuracy"]}
    row |= {"maj": trained[f"maj@{n}"], "pass": trained[f"pass@{n}"]}
    row |= {f"verifier_{m}": trained[f"{m}@{n}"] for m in SELECTIONS}
    row |= {f"likelihood_{m}": likelihood[f"{m}@{n}"] for m in SELECTIONS}
    row |= {f"calculations_{m}": metrics["rerank_calculations"][f"{m}@{n}"] for m in SELECTIONS}
    scorers = (
        ("verifier", "scored.jsonl"),
        ("likelihood", "likelihood/scored.jsonl"),
        ("calculations", "calculations/scored.jsonl"),
    )
    for scorer, scored in scorers:
        ranking = test_scores(run_dir, scored)
        row[f"auroc_{scorer}"], row[f"within_auroc_{scorer}"] = ranking["auroc"], ranking["within_auroc"]
        row[f"repeats_{scorer}"] = ranking["repeats"]
    row["checks"] = check_fidelity(run_dir)
    return row


COLUMNS = (
    "greedy",
    "maj",
    "pass",
    "likelihood_best_of",
    "likelihood_cluster",
    "verifier_best_of",
    "verifier_weighted",
    "verifier_cluster",
    "calculations_weighted",
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--objectives", nargs="+", default=["last_token", "token_level", "process"])
    parser.add_argument("--generators", type=Path, required=True, help="seed_spread.py's runs: seed<S>/hf")
    parser.add_argument("--n", type=int, default=16, help="samples per held-out problem")
    parser.add_argument(
        "--tag",
        default="",
        help="an ablation: runs in <objective>_<tag>/, re-ranking the untagged first objective's samples if it ran",
    )
    parser.add_argument("overrides", nargs="*", help="more config overrides for every run (before the --options)")
    args = parser.parse_args()

    rows = [
        run_arm(seed, objective, args.objectives[0], args.generators.resolve(), args.n, args.overrides, args.tag)
        for seed in args.seeds
        for objective in args.objectives
    ]
    OUT.mkdir(parents=True, exist_ok=True)
    summary = {"n": args.n, "overrides": args.overrides, "tag": args.tag, "rows": rows}
    (OUT / f"summary{'_' + args.tag if args.tag else ''}.json").write_text(json.dumps(summary, indent=2))

    aurocs = (
        "auroc_verifier",
        "auroc_likelihood",
        "within_auroc_verifier",
        "within_auroc_likelihood",
        "within_auroc_calculations",
    )
    print("| objective | seed | " + " | ".join(COLUMNS + aurocs) + " |")
    print("|---|---:" + "|---:" * (len(COLUMNS) + len(aurocs)) + "|")
    for row in rows:
        cells = [f"{100 * row[c]:.1f}" for c in COLUMNS]
        cells += [f"{row[a]:.3f}" if row[a] is not None else "n/a" for a in aurocs]
        print(f"| {row['objective']} | {row['seed']} | " + " | ".join(cells) + " |")
    for objective in {row["objective"]: None for row in rows}:
        arm = [row for row in rows if row["objective"] == objective]
        cells = []
        for c in COLUMNS:
            values = [100 * row[c] for row in arm]
            cells.append(f"{statistics.mean(values):.1f} ± {seed_sd(values):.1f}")
        means = [statistics.mean(row[a] for row in arm if row[a] is not None) for a in aurocs]
        print(f"| {objective} | mean | " + " | ".join(cells + [f"{m:.3f}" for m in means]) + " |")
    for objective in {row["objective"]: None for row in rows}:
        arm = [row for row in rows if row["objective"] == objective]
        for a, b in (
            ("verifier_best_of", "maj"),
            ("verifier_weighted", "maj"),
            ("verifier_cluster", "maj"),
            ("verifier_best_of", "likelihood_best_of"),
            ("calculations_weighted", "maj"),
        ):
            gaps = [100 * (row[a] - row[b]) for row in arm]
            print(
                f"{objective}: {a} - {b}: "
                + ", ".join(f"{g:+.1f}" for g in gaps)
                + f" (mean {statistics.mean(gaps):+.1f})"
            )
    for row in rows:
        if c := row["checks"]:
            print(
                f"{row['objective']} seed {row['seed']}: {c['checks']} checks written, {c['exact'] / c['checks']:.1%} "
                f"as the calculator builds them; a slip flagged in {c['slips_flagged']}/{c['slips']} samples with one, "
                f"in {c['sound_flagged']}/{c['sound']} sound ones"
            )
    for row in rows:
        r = row["repeats_verifier"]
        if r["questions"]:
            print(
                f"{row['objective']} seed {row['seed']}, {r['questions']} questions with >= 2 correct and >= 2 wrong: "
                f"distinct texts per sample correct {r['correct_distinct_per_sample']:.2f} wrong "
                f"{r['wrong_distinct_per_sample']:.2f}; verifier score sd correct {r['correct_score_sd']:.4f} wrong "
                f"{r['wrong_score_sd']:.4f}"
            )


if __name__ == "__main__":
    main()
