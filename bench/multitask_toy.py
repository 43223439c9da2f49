"""Multi-task sequential fine-tuning at toy scale: does generator -> verifier -> generator beat SFT only?

    python bench/multitask_toy.py eval.temperature=1.0 --seeds 1 2 3      # ~30 min a seed

Each seed runs `python -m mathlit task=multitask sampler=vllm seed=S <overrides>` into
bench/out/multitask_toy/seed<S>/ (a finished seed is read back, not re-run). The task itself trains the SFT-only
control for as many generation steps as the multi-task stages together (multitask.sft_control), so the table
compares, on the same test problems: the first stage's plain SFT model, the final multi-task model and the
control, each by greedy accuracy, maj@N and pass@N; and how the final model re-ranks its own samples (as its own
verifier, and by its likelihood) and how a calculator's check re-ranks the SFT and final models' samples
(task=eval eval.rerank=calculations, into seed<S>/calculations/). Paired gains per seed and mean ± sd;
bench/out/multitask_toy/summary.json.
Pass config overrides before the --options (argparse reads what follows --seeds as seeds).
"""

import argparse
import json
import statistics
from pathlib import Path

from runs import run_once, seed_sd

OUT = Path(__file__).resolve().parents[1] / "bench" / "out" / "multitask_toy"
MODELS = ("sft", "multitask", "sft_control")


def seed_row(seed: int, overrides: list[str]) -> dict:
    settings = ["task=multitask", "sampler=vllm", "sampler.gpu_memory_utilization=0.2", f"seed={seed}"]
    metrics = json.loads(run_once(OUT / f"seed{seed}", "metrics.json", [*settings, *overrides]).read_text())
    row: dict = {"seed": seed}
    for model in MODELS:
        sampled = metrics[model]["sampled"]
        n = sampled["n"]
        row |= {f"{model}_greedy": metrics[model]["greedy_accuracy"], f"{model}_maj": sampled[f"maj@{n}"]}
        row[f"{model}_pass"] = sampled[f"pass@{n}"]
    for name, rerank in (("verifier", "rerank"), ("likelihood", "rerank_likelihood")):
        figures = metrics["multitask"][rerank]
        row |= {f"multitask_{name}_{m}": figures[f"{m}@{figures['n']}"] for m in ("best_of", "cluster")}
    for model in ("sft", "multitask"):  # a calculator's check re-ranks the same samples: no model needed
        samples = OUT / f"seed{seed}" / "test" / model / "sampled" / "samples.jsonl"
        checked = OUT / f"seed{seed}" / "calculations" / model
        settings = ["task=eval", f"eval.samples_path={samples}", "eval.rerank=calculations"]
        figures = json.loads(run_once(checked, "metrics.json", settings).read_text())["rerank"]
        row[f"{model}_calculations_weighted"] = figures[f"weighted@{n}"]
    row["n"] = n
    return row


COLUMNS = (
    "sft_greedy",
    "sft_maj",
    "sft_control_greedy",
    "sft_control_maj",
    "multitask_greedy",
    "multitask_maj",
    "multitask_pass",
    "multitask_verifier_best_of",
    "multitask_verifier_cluster",
    "multitask_likelihood_best_of",
    "multitask_calculations_weighted",
    "sft_calculations_weighted",
)
GAINS = (
    ("multitask_greedy", "sft_control_greedy"),
    ("multitask_maj", "sft_control_maj"),
    ("multitask_greedy", "sft_greedy"),
    ("sft_control_greedy", "sft_greedy"),
    ("multitask_verifier_best_of", "multitask_maj"),
    ("multitask_verifier_cluster", "multitask_maj"),
    ("multitask_likelihood_best_of", "multitask_maj"),
    ("multitask_calculations_weighted", "multitask_maj"),
    ("sft_calculations_weighted", "sft_maj"),
)


def mean_sd(values: list[float]) -> str:
    return f"{statistics.mean(values):+.1f} ± {seed_sd(values):.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("overrides", nargs="*", help="config overrides for every run (before the --options)")
    args = parser.parse_args()

    rows = [seed_row(seed, args.overrides) for seed in args.seeds]
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "summary.json").write_text(json.dumps({"overrides": args.overrides, "rows": rows}, indent=2))

    print("| seed | " + " | ".join(COLUMNS) + " |")
    print("|---:" + "|---:" * len(COLUMNS) + "|")
    for row in rows:
        print(f"| {row['seed']} | " + " | ".join(f"{100 * row[c]:.1f}" for c in COLUMNS) + " |")
    means = [f"{statistics.mean(100 * row[c] for row in rows):.1f}" for c in COLUMNS]
    print("| mean | " + " | ".join(means) + " |")
    for a, b in GAINS:
        gaps = [100 * (row[a] - row[b]) for row in rows]
        print(f"{a} - {b}: " + ", ".join(f"{g:+.1f}" for g in gaps) + f" (mean {mean_sd(gaps)})")


if __name__ == "__main__":
    main()
