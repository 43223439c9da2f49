"""The RFT paper's scaling findings at toy scale (issue 18): each study is one Hydra multirun and its report.

    python bench/scaling_toy.py data --layers 4 2   # 1, 2, 5: SFT accuracy vs data fraction, two depths (~45 min)
    python bench/scaling_toy.py pretrain            # 3: task=pretrain, 2 depths x 2 budgets, then SFT (~25 min)
    python bench/scaling_toy.py rft-k --k 1 2 4 8   # 4: RFT gain vs distinct paths (bench/rft_toy.py per k)
    python bench/scaling_toy.py steps               # the data study's control: 1/16 and 1/4 at 1,600 steps (~25 min)

Every run is `python -m mathlit -m ...` into bench/out/scaling/<study>/ (a study whose sweep.json exists is read
back, not rerun); its report (task=report, written by the multirun's callback) is sweep.md and the PNGs there.
Data amounts are compared at a fixed number of epochs (trainer.max_steps=-1 trainer.max_epochs=8: the default
recipe's 1,600 steps of 16 are 8.7 epochs of the 2,936 training problems). `pretrain` also writes
indicator.md and indicator.png: SFT accuracy against pre-training loss and against parameter count.
"""

import argparse
import json
import math
import statistics
import subprocess
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from safetensors import safe_open  # noqa: E402

from mathlit.metrics.intervals import mean_interval  # noqa: E402
from mathlit.metrics.sweep import find_runs, read_overrides  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out" / "scaling"
EPOCHS = ["trainer.max_steps=-1", "trainer.max_epochs=8", "trainer.progress_bar=false"]
FRACTIONS = "data.train_fraction=0.0625,0.125,0.25,0.5,1"
SEEDS = "seed=1,2,3"


def multirun(name: str, overrides: list[str]) -> Path:
    """`python -m mathlit -m <overrides>` into OUT/name unless its report exists. Returns the folder."""
    folder = OUT / name
    if not (folder / "sweep.json").exists():
        command = [sys.executable, "-m", "mathlit", "-m", *overrides, f"hydra.sweep.dir={folder}"]
        subprocess.run(command, cwd=ROOT, check=True)
    return folder


def report(name: str, folders: list[Path]) -> Path:
    """task=report over several multirun folders (one table, one fit per series) into OUT/name."""
    folder = OUT / name
    dirs = "[" + ",".join(str(f) for f in folders) + "]"
    command = [sys.executable, "-m", "mathlit", "task=report", f"report.dir={dirs}", f"hydra.run.dir={folder}"]
    subprocess.run(command, cwd=ROOT, check=True)
    return folder


def data_study(layers: list[int]) -> None:
    """SFT accuracy against the training-data fraction at fixed epochs, 3 seeds, per model depth."""
    folders = [
        multirun(f"data_fraction_{n}layers", [FRACTIONS, SEEDS, f"model.arch.num_hidden_layers={n}", *EPOCHS])
        for n in layers
    ]
    print((report("data_fraction", folders) / "sweep.md").read_text())
    print(error_table(folders))


def error_table(folders: list[Path]) -> str:
    """Xwin-Math's error analysis per data amount: the greedy errors of each kind (mean over seeds)."""
    groups: dict[tuple, list[dict]] = {}
    for metrics_file in sorted(f for folder in folders for f in folder.glob("*/metrics.json")):
        metrics = json.loads(metrics_file.read_text())
        depth = read_overrides(metrics_file.parent).get("model.arch.num_hidden_layers")
        key = (depth, metrics["headline"]["data"]["train_fraction"])
        groups.setdefault(key, []).append(metrics["error_types"]["greedy"]["counts"])
    kinds = ("calculation", "reasoning", "format", "truncated")
    lines = ["| layers | data fraction | " + " | ".join(kinds) + " | (wrong of 1,000, mean over seeds) |"]
    lines.append("|---:|---:|" + "---:|" * len(kinds) + "---|")
    for (depth, fraction), counts in sorted(groups.items(), key=lambda item: (int(item[0][0]), item[0][1])):
        means = [statistics.mean(c[kind] for c in counts) for kind in kinds]
        lines.append(f"| {depth} | {fraction} | " + " | ".join(f"{m:.0f}" for m in means) + f" | {len(counts)} seeds |")
    table = "\n".join(lines) + "\n"
    (OUT / "error_types.md").write_text(table)
    return table


def steps_study(fractions: list[float]) -> None:
    """The control for the data study: the same fractions at the default's fixed 1,600 steps (many more epochs
    for small fractions), so that data amount and optimizer steps are told apart."""
    values = "data.train_fraction=" + ",".join(map(str, fractions))
    folder = multirun("data_fraction_fixed_steps", [values, SEEDS, "trainer.progress_bar=false"])
    print((folder / "sweep.md").read_text())


def parameters(hf_dir: Path) -> int:
    """Parameters stored in a model folder's safetensors files (tied weights are stored once)."""
    total = 0
    for path in hf_dir.glob("*.safetensors"):
        with safe_open(path, "pt") as f:
            for key in f.keys():
                total += math.prod(f.get_slice(key).get_shape())
    return total


def pretrain_study(budgets: list[int], layers: list[int]) -> None:
    """task=pretrain at each depth x budget (steps), then the same SFT (1/8 of the data, 8 epochs, 3 seeds)
    from each; SFT accuracy against held-out pre-training loss and against parameter count."""
    depth = "model.arch.num_hidden_layers=" + ",".join(map(str, layers))
    steps = "trainer.max_steps=" + ",".join(map(str, budgets))
    pretrained = multirun("pretrain", ["task=pretrain", depth, steps, "seed=1", "trainer.progress_bar=false"])
    models = sorted(find_runs([pretrained])[0], key=lambda run: run.folder)
    paths = "model.path=" + ",".join(str(m.folder / "hf") for m in models)
    tuned = find_runs([multirun("pretrain_sft", [paths, SEEDS, "data.train_fraction=0.125", *EPOCHS])])[0]
    rows = []
    for model in models:
        hf = model.folder / "hf"
        # By the pre-training job's folder name (0, 1, ...), not its absolute path: the study folder may move.
        runs = [t for t in tuned if Path(t.headline["model"]["path"]).parent.name == model.folder.name]
        accuracy = [t.headline["accuracy"]["greedy_accuracy"] for t in runs]
        rows.append(
            {
                "model": str(model.folder.relative_to(ROOT)),
                "layers": model.overrides.get("model.arch.num_hidden_layers"),
                "pretrain_steps": model.headline["steps"],
                "parameters": parameters(hf),
                "pretrain_loss": model.headline["loss"]["heldout"],
                "sft_accuracy": accuracy,
                "mean": statistics.mean(accuracy),
                "ci95": mean_interval(accuracy),
            }
        )
    (OUT / "indicator.json").write_text(json.dumps(rows, indent=2) + "\n")
    lines = ["| layers | pre-training steps | parameters | held-out pre-training loss | SFT greedy (3 seeds) |"]
    lines.append("|---:|---:|---:|---:|---:|")
    for r in rows:
        lo, hi = r["ci95"]
        lines.append(
            f"| {r['layers']} | {r['pretrain_steps']} | {r['parameters']:,} | {r['pretrain_loss']:.4f} "
            f"| {100 * r['mean']:.1f}% [{100 * lo:.1f}, {100 * hi:.1f}] |"
        )
    (OUT / "indicator.md").write_text("\n".join(lines) + "\n")
    plot_indicator(rows, OUT / "indicator.png")
    print("\n".join(lines))


def plot_indicator(rows: list[dict], path: Path) -> None:
    fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
    for ax, key, label in (
        (axes[0], "pretrain_loss", "held-out pre-training loss"),
        (axes[1], "parameters", "parameters"),
    ):
        for r in rows:
            lo, hi = r["ci95"]
            ax.errorbar(
                r[key],
                100 * r["mean"],
                yerr=[[100 * (r["mean"] - lo)], [100 * (hi - r["mean"])]],
                fmt="o",
                capsize=3,
                label=f"{r['layers']} layers, {r['pretrain_steps']} steps",
            )
        ax.set_xlabel(label)
    axes[0].set_ylabel("SFT greedy accuracy (%)")
    axes[1].legend(fontsize=8)
    fig.suptitle("SFT accuracy (1/8 of the data) against what pre-training left")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def rft_k_study(ks: list[int], seeds: list[int], sft_runs: Path) -> None:
    """bench/rft_toy.py at each k (k=8 is its default run), then the gain against distinct paths per question."""
    rows = []
    for k in ks:
        name = "default" if k == 8 else f"k{k}"
        summary_file = ROOT / "bench" / "out" / "rft_toy" / f"{name}.json"
        if not summary_file.exists() or json.loads(summary_file.read_text())["k"] != k:
            command = [sys.executable, "bench/rft_toy.py", "--name", name, "--k", str(k), "--sft-runs", str(sft_runs)]
            subprocess.run([*command, "--seeds", *map(str, seeds)], cwd=ROOT, check=True)
        summary = json.loads(summary_file.read_text())
        per_seed = [s for s in summary["seeds"] if s["seed"] in seeds]
        gains = [s["rft"] - s["sft"] for s in per_seed]
        rows.append(
            {
                "k": k,
                "seeds": [s["seed"] for s in per_seed],
                "distinct_paths": statistics.mean(s["distinct_paths_mean"] for s in per_seed),
                "accepted": statistics.mean(s["accepted"] for s in per_seed),
                "gain": statistics.mean(gains),
                "gain_ci95": mean_interval(gains),
                "gains": gains,
            }
        )
    (OUT / "rft_k.json").write_text(json.dumps(rows, indent=2) + "\n")
    lines = ["| k | new distinct paths per question | kept paths | RFT - SFT gain (paired, mean [95% CI]) | per seed |"]
    lines.append("|---:|---:|---:|---:|---|")
    for r in rows:
        lo, hi = r["gain_ci95"]
        per_seed = " / ".join(f"{100 * g:+.1f}" for g in r["gains"])
        lines.append(
            f"| {r['k']} | {r['distinct_paths']:.2f} | {r['accepted']:,.0f} | {100 * r['gain']:+.1f} "
            f"[{100 * lo:+.1f}, {100 * hi:+.1f}] | {per_seed} |"
        )
    (OUT / "rft_k.md").write_text("\n".join(lines) + "\n")
    fig, ax = plt.subplots(figsize=(5, 4))
    for r in rows:
        lo, hi = r["gain_ci95"]
        ax.errorbar(
            r["distinct_paths"],
            100 * r["gain"],
            yerr=[[100 * (r["gain"] - lo)], [100 * (hi - r["gain"])]],
            fmt="o",
            capsize=3,
        )
        ax.annotate(f"k={r['k']}", (r["distinct_paths"], 100 * r["gain"]), textcoords="offset points", xytext=(5, 5))
    ax.set_xlabel("new distinct reasoning paths per question")
    ax.set_ylabel("RFT - SFT greedy accuracy (points)")
    fig.tight_layout()
    fig.savefig(OUT / "rft_k.png", dpi=120)
    plt.close(fig)
    print("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="study", required=True)
    data = sub.add_parser("data", help="SFT accuracy vs data fraction per depth")
    data.add_argument("--layers", type=int, nargs="+", default=[4, 2])
    steps = sub.add_parser("steps", help="the data study's control at fixed optimizer steps")
    steps.add_argument("--fractions", type=float, nargs="+", default=[0.0625, 0.25])
    pre = sub.add_parser("pretrain", help="pre-training loss as the indicator")
    pre.add_argument("--layers", type=int, nargs="+", default=[2, 4])
    pre.add_argument("--budgets", type=int, nargs="+", default=[100, 400], help="pre-training steps")
    rft = sub.add_parser("rft-k", help="RFT gain vs k")
    rft.add_argument("--k", type=int, nargs="+", default=[1, 2, 4, 8])
    rft.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    rft.add_argument("--sft-runs", type=Path, default=ROOT / "bench" / "out" / "seed_spread" / "bs16_1600")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    if args.study == "data":
        data_study(args.layers)
    elif args.study == "steps":
        steps_study(args.fractions)
    elif args.study == "pretrain":
        pretrain_study(args.budgets, args.layers)
    else:
        rft_k_study(args.k, args.seeds, args.sft_runs)


if __name__ == "__main__":
    main()
