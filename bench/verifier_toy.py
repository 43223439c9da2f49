"""Verifier re-ranking at toy scale: greedy vs maj@16 vs best-of-16 vs weighted vote vs cluster re-ranking.

    python bench/verifier_toy.py                       # seeds 1 2 3, tiny_llama on arith, CPU (~10 min a seed)
    python bench/verifier_toy.py --seeds 1 verifier=pairwise

Each seed runs `python -m mathlit task=verifier` into bench/out/verifier_toy/seed<S>/: the generator is the
SFT model of bench/rft_toy.py's run of that seed when there is one (else an SFT stage first); it samples
8 candidates for each of 1000 training questions; a token-head verifier starts from the generator and
trains 300 steps; then 16 samples per held-out problem (500) are re-ranked. A finished seed is read back,
not re-run. Results in bench/out/verifier_toy.json.
"""

import argparse
import csv
import json
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out"
METHODS = ("greedy", "maj", "best_of", "weighted", "cluster", "pass")


def last_validation(run_dir: Path) -> dict:
    """The verifier's last logged validation metrics (held-out questions' candidates)."""
    rows = [r for path in (run_dir / "verifier" / "logs").rglob("metrics.csv") for r in csv.DictReader(open(path))]
    logged = [r for r in rows if r.get("val/accuracy")]  # AUROC is absent when one label is missing
    return {k.removeprefix("val/"): float(v) for k, v in logged[-1].items() if k.startswith("val/") and v}


def run_seed(seed: int, n: int, overrides: list[str]) -> dict:
    run_dir = OUT / "verifier_toy" / f"seed{seed}"
    metrics_file = run_dir / "metrics.json"
    if not metrics_file.exists():
        command = [sys.executable, "-m", "mathlit", "task=verifier", f"seed={seed}", f"eval.n={n}", "sampler=vllm"]
        command += ["sampler.gpu_memory_utilization=0.2", f"hydra.run.dir={run_dir}", *overrides]
        sft = OUT / "rft_toy" / f"seed{seed}" / "sft" / "hf"
        if (sft / "model.safetensors").exists():
            command.append(f"verifier.generator_path={sft}")
        run_dir.mkdir(parents=True, exist_ok=True)
        with open(run_dir / "bench.log", "a") as log:
            subprocess.run(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, check=True)
    metrics = json.loads(metrics_file.read_text())
    row = {"seed": seed, "greedy": metrics["greedy"]}
    row |= {name: metrics[f"{name}@{n}"] for name in METHODS[1:]}
    return row | {"validation": last_validation(run_dir)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--n", type=int, default=16, help="samples per held-out problem")
    parser.add_argument("overrides", nargs="*", help="more config overrides for every run")
    args = parser.parse_args()

    rows = [run_seed(seed, args.n, args.overrides) for seed in args.seeds]
    means = {name: statistics.mean(row[name] for row in rows) for name in METHODS}
    gaps = {
        f"{a}-{b}": [row[a] - row[b] for row in rows]
        for a, b in (("best_of", "maj"), ("cluster", "maj"), ("maj", "greedy"), ("best_of", "greedy"))
    }
    summary = {"n": args.n, "overrides": args.overrides, "seeds": rows, "mean": means, "gaps": gaps}
    (OUT / "verifier_toy.json").write_text(json.dumps(summary, indent=2) + "\n")

    n = args.n
    names = ["greedy", f"maj@{n}", f"best-of-{n}", f"weighted@{n}", f"cluster@{n}", f"pass@{n}", "val AUROC"]
    print("| seed | " + " | ".join(names) + " |")
    print("|---:" * (len(names) + 1) + "|")
    for row in rows:
        cells = [f"{100 * row[m]:.1f}%" for m in METHODS] + [f"{row['validation'].get('auroc', float('nan')):.3f}"]
        print(f"| {row['seed']} | " + " | ".join(cells) + " |")
    print("| mean | " + " | ".join(f"{100 * means[m]:.1f}%" for m in METHODS) + " | |")
    for name, values in gaps.items():
        spread = statistics.stdev(values) if len(values) > 1 else 0.0
        print(
            f"{name}: {100 * statistics.mean(values):+.1f} ± {100 * spread:.1f} points (per seed: "
            + ", ".join(f"{100 * v:+.1f}" for v in values)
            + ")"
        )


if __name__ == "__main__":
    main()
