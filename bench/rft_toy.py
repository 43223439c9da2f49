"""RFT against SFT at toy scale: does rejection-sampled data help with the same optimizer steps?

    python bench/seed_spread.py                  # the SFT runs (seeds 1-5), ~4 min a seed
    python bench/rft_toy.py --sft-runs bench/out/seed_spread/default          # RFT on them, ~10 min a seed
    python bench/rft_toy.py --name from_sft --samples-from default --sft-runs bench/out/seed_spread/default \
        rft.init=sft                             # an ablation on the same sampled paths (~5 min a seed)

Each seed runs `python -m mathlit task=rft` (SFT of the default recipe, or that seed's finished SFT run with
--sft-runs -> k paths per training question with vLLM -> correct, distinct paths -> fine-tune from the base with
the same optimizer steps on original + augmented data) into bench/out/rft_toy/<name>/seed<S>/; a finished seed
is read back, not re-run. Reports greedy accuracy on the held-out problems per seed and the paired RFT - SFT
gain, in bench/out/rft_toy/<name>.json. --control-steps N adds plain SFT with N steps per seed.
"""

import argparse
import json
import shutil
import statistics
from pathlib import Path

from runs import run_once, seed_sd

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out"


def run_seed(
    seed: int, k: int, overrides: list[str], name: str, sft_runs: Path | None, samples_from: str | None
) -> dict:
    """One seed's SFT and RFT accuracy. With sft_runs (bench/seed_spread.py's folders of the same recipe) the SFT
    stage is that seed's finished run (rft.sft_path), which trains exactly what task=rft's SFT stage would.
    samples_from names earlier runs whose sampled paths this one filters again instead of sampling anew (their
    shards are reused only when weights and sampling settings match: see mathlit.sampling.records)."""
    settings = ["task=rft", f"seed={seed}", f"rft.k={k}", "sampler=vllm", "sampler.gpu_memory_utilization=0.2"]
    if sft_runs:
        settings.append(f"rft.sft_path={sft_runs / f'seed{seed}' / 'hf'}")
    run_dir = OUT / "rft_toy" / name / f"seed{seed}"
    samples = run_dir / "rft" / "round1" / "samples"
    if samples_from and not samples.exists():
        shutil.copytree(OUT / "rft_toy" / samples_from / f"seed{seed}" / "rft" / "round1" / "samples", samples)
    report = run_once(run_dir, "metrics.json", [*settings, *overrides])
    stages = {row["stage"]: row for row in json.loads(report.read_text())["stages"]}
    sft = stages["sft"] if not sft_runs else json.loads((sft_runs / f"seed{seed}" / "metrics.json").read_text())
    data = stages["rft1"]["rft_data"]
    return {
        "seed": seed,
        "sft": sft["greedy_accuracy"],
        "rft": stages["rft1"]["greedy_accuracy"],
        "coverage": data["coverage"],
        "distinct_paths_mean": data["distinct_paths_mean"],
        "accepted": data["accepted"],
        "rejected": data["rejected"],
        "train_examples": stages["rft1"]["train_examples"],
        "samples": data["samples"],
        "by_difficulty": data.get("by_difficulty"),  # rft.strategy=prop2diff
    }


def run_control(seed: int, steps: int, overrides: list[str]) -> float:
    """Greedy accuracy of plain SFT with `steps` optimizer steps."""
    settings = ["task=sft", f"seed={seed}", f"trainer.max_steps={steps}"]
    metrics = run_once(OUT / "rft_toy" / f"sft_{steps}steps" / f"seed{seed}", "metrics.json", [*settings, *overrides])
    return json.loads(metrics.read_text())["greedy_accuracy"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    parser.add_argument("--k", type=int, default=8, help="paths sampled per training question")
    parser.add_argument("--control-steps", type=int, default=None, help="also plain SFT with this many steps")
    parser.add_argument("--name", default="default", help="folder (under bench/out/rft_toy/) for these runs")
    parser.add_argument("--sft-runs", type=Path, default=None, help="reuse seed_spread.py's SFT runs (seed<S>/hf)")
    parser.add_argument("--samples-from", default=None, help="reuse the sampled paths of this --name's runs")
    parser.add_argument("overrides", nargs="*", help="more config overrides for every run (before the --options)")
    args = parser.parse_args()

    rows = [run_seed(seed, args.k, args.overrides, args.name, args.sft_runs, args.samples_from) for seed in args.seeds]
    if args.control_steps:
        for row in rows:
            row["sft_control"] = run_control(row["seed"], args.control_steps, args.overrides)
    gains = [row["rft"] - row["sft"] for row in rows]
    summary = {
        "k": args.k,
        "sft_runs": str(args.sft_runs) if args.sft_runs else None,
        "overrides": args.overrides,
        "seeds": rows,
        "sft_mean": statistics.mean(row["sft"] for row in rows),
        "rft_mean": statistics.mean(row["rft"] for row in rows),
        "gain_mean": statistics.mean(gains),
        "gain_stdev": seed_sd(gains),
    }
    if args.control_steps:
        summary["sft_control_steps"] = args.control_steps
        summary["sft_control_mean"] = statistics.mean(row["sft_control"] for row in rows)
    (OUT / "rft_toy" / f"{args.name}.json").write_text(json.dumps(summary, indent=2) + "\n")
    print("| seed | SFT greedy | RFT greedy | gain | coverage | distinct paths/q | accepted | train ex. |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for row, gain in zip(rows, gains, strict=True):
        print(
            f"| {row['seed']} | {100 * row['sft']:.1f}% | {100 * row['rft']:.1f}% | {100 * gain:+.1f} "
            f"| {100 * row['coverage']:.1f}% | {row['distinct_paths_mean']:.2f} | {row['accepted']} "
            f"| {row['train_examples']} |"
        )
    print(
        f"| mean | {100 * summary['sft_mean']:.1f}% | {100 * summary['rft_mean']:.1f}% "
        f"| {100 * summary['gain_mean']:+.1f} ± {100 * summary['gain_stdev']:.1f} | | | | |"
    )
    if args.control_steps:
        controls = ", ".join(f"seed {row['seed']}: {100 * row['sft_control']:.1f}%" for row in rows)
        print(f"plain SFT with {args.control_steps} steps: {controls}; mean {100 * summary['sft_control_mean']:.1f}%")


if __name__ == "__main__":
    main()
