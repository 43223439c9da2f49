"""How much does the default recipe's accuracy depend on the seed? Re-measures the spread over seeds.

    python bench/seed_spread.py                                   # the default recipe, seeds 1-5 (~4 min a seed)
    python bench/seed_spread.py --seeds 1 2 3 --name lr6e-3 optim.lr=6e-3

Each seed runs `python -m mathlit seed=S <overrides>` into bench/out/seed_spread/<name>/seed<S>/ (a finished
seed is read back, not re-run) and the table gives greedy accuracy per seed with the mean, the standard
deviation and the largest distance from the mean; bench/out/seed_spread/<name>.json keeps it all.
"""

import argparse
import json
import statistics
from pathlib import Path

from runs import run_once, seed_sd

OUT = Path(__file__).resolve().parents[1] / "bench" / "out" / "seed_spread"


def spread(values: list[float]) -> dict:
    """Mean, sample standard deviation and largest distance from the mean."""
    mean = statistics.mean(values)
    return {
        "mean": mean,
        "stdev": seed_sd(values),
        "max_dev": max(abs(v - mean) for v in values),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    parser.add_argument("--name", default="default", help="folder for this recipe's runs")
    parser.add_argument("overrides", nargs="*", help="config overrides for every run")
    args = parser.parse_args()

    rows = []
    for seed in args.seeds:
        metrics_file = run_once(OUT / args.name / f"seed{seed}", "metrics.json", [f"seed={seed}", *args.overrides])
        metrics = json.loads(metrics_file.read_text())
        rows.append(
            {
                "seed": seed,
                "accuracy": metrics["greedy_accuracy"],
                "problems": metrics["problems"],
                "train_seconds": metrics["train_seconds"],
            }
        )
    summary = {"name": args.name, "overrides": args.overrides, "seeds": rows, **spread([r["accuracy"] for r in rows])}
    (OUT / f"{args.name}.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(f"{args.name} ({' '.join(args.overrides) or 'default recipe'}), {rows[0]['problems']} test problems")
    print("| seed | greedy accuracy | train s |")
    print("|---:|---:|---:|")
    for row in rows:
        print(f"| {row['seed']} | {100 * row['accuracy']:.1f}% | {row['train_seconds']:.0f} |")
    print(
        f"| mean | {100 * summary['mean']:.1f}% ± {100 * summary['stdev']:.1f} (sd), "
        f"max deviation {100 * summary['max_dev']:.1f} | |"
    )


if __name__ == "__main__":
    main()
