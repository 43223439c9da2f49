"""Online RL against RFT and SFT at toy scale, at matched compute: does GRPO (or Dr. GRPO, DAPO) help, and how?

    python bench/seed_spread.py --seeds 1 2 3 6 9                     # each seed's default SFT model (~9 min a seed)
    python bench/grpo_toy.py --sft-runs bench/out/seed_spread/default --seeds 1 2 3 6 9 --jobs 2

From each seed's default SFT model (bench/out/seed_spread/default/seed<S>/hf), with the same budget of S optimizer
steps (--steps) and S x 64 samples drawn (--steps x 8 questions x 8 samples):
- sft:      the SFT model itself (no more training);
- sft_cont: `task=sft model.path=SFT` for S more steps on the original data (batch 16);
- rft:      `task=rft rft.sft_path=SFT rft.init=sft rft.k=8 rft.max_questions=8S`: 8 paths at T=0.7 for each of
            8S training questions (the same samples drawn), then S steps from the SFT model on original + kept paths;
- grpo, dr_grpo, dapo: `task=grpo model.path=SFT rl.algorithm=A`: S steps of 8 questions x 8 samples at T=1.0
            (DAPO's dynamic sampling draws more questions when groups carry no signal: its samples are reported);
- grpo_calc: GRPO with the calculations reward term (rl.reward.calculations=0.5) beside the answer's.
Every trained arm uses the same optimizer: AdamW at a constant --lr (1e-4), no warm-up. Each model is then
evaluated the same way: greedy accuracy on the 1,000 held-out problems, and for the --sampled-arms (SFT, RFT and
GRPO by default) 16 samples at T=0.7 on the first --sampled-problems of them (pass@k, maj@k, and the share of
correct samples whose calculations fail). Runs land in bench/out/grpo_toy/seed<S>/<arm>/
(a finished run is read back, not re-run); the table and bench/out/grpo_toy/summary.json report per seed and the
paired differences to SFT-continued; bench/plots/online_rl/ the pass@k, reward and length curves.
"""

import argparse
import csv
import json
import shutil
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from runs import run_once, seed_sd

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out" / "grpo_toy"
sys.path.insert(0, str(ROOT))  # mathlit, when run as a script
RL_ARMS = {"grpo": [], "dr_grpo": [], "dapo": [], "grpo_calc": ["rl.reward.calculations=0.5"]}
ARMS = ("sft", "sft_cont", "rft", *RL_ARMS)
DEFAULT_ARMS = ("sft", "sft_cont", "rft", "grpo", "dr_grpo", "dapo")


def train_arm(arm: str, seed: int, sft: Path, args) -> Path:
    """Train one arm from the seed's SFT model; the saved model folder."""
    run_dir = OUT / f"seed{seed}" / arm
    common = [f"seed={seed}", "data.max_test_examples=1", "trainer.progress_bar=false", "sampler=hf"]
    # Every trained arm continues a converged model with the same optimizer: a fresh Adam at the SFT recipe's lr
    # (3e-3) wrecks it within 30 steps (88% -> ~50% greedy), so all take the RL arms' small constant lr.
    common += [f"optim.lr={args.lr}", "optim.schedule=constant", "optim.warmup_ratio=0"]
    if arm == "sft":
        return sft
    if arm == "sft_cont":
        run_once(run_dir, "metrics.json", ["task=sft", f"model.path={sft}", f"trainer.max_steps={args.steps}", *common])
        return run_dir / "hf"
    if arm == "rft":
        settings = ["task=rft", f"rft.sft_path={sft}", "rft.init=sft", "rft.k=8", f"rft.max_questions={8 * args.steps}"]
        reuse_samples(run_dir, OUT / f"seed{seed}" / "rft_default_optim")
        run_once(run_dir, "metrics.json", [*settings, f"trainer.max_steps={args.steps}", *common])
        return run_dir / "rft1" / "hf"
    algorithm = "grpo" if arm == "grpo_calc" else arm
    settings = [
        "task=grpo", f"model.path={sft}", f"rl.algorithm={algorithm}", f"rl.max_steps={args.steps}",
        "rl.questions_per_step=8", "rl.group_size=8", f"rl.max_new_tokens={args.max_new_tokens}",
        "trainer.micro_batch_size=64", *RL_ARMS[arm],
    ]  # fmt: skip
    run_once(run_dir, "metrics.json", [*settings, *common])
    return run_dir / "grpo" / "hf"


def reuse_samples(run_dir: Path, earlier: Path) -> None:
    """An earlier RFT run's sampled paths of the same SFT model (e.g. with another optimizer), copied in before
    the run: stored samples are reused only for the same weights and settings (mathlit.sampling.records)."""
    samples, source = run_dir / "rft" / "round1" / "samples", earlier / "rft" / "round1" / "samples"
    if source.exists() and not samples.exists():
        shutil.copytree(source, samples)


def evaluate_arm(arm: str, seed: int, model: Path, args) -> dict:
    """Greedy on every held-out problem, 16 samples on the first --sampled-problems."""
    folder = OUT / f"seed{seed}" / arm / "eval"
    common = ["task=eval", f"model.path={model}", "sampler=hf", "trainer.progress_bar=false", f"seed={seed}"]
    greedy = json.loads(run_once(folder / "greedy", "metrics.json", [*common, "eval.n=0"]).read_text())
    if arm not in args.sampled_arms and not (folder / "sampled" / "metrics.json").exists():
        return {"greedy": greedy["greedy_accuracy"]}
    sampled_settings = [*common, "eval.greedy=false", "eval.n=16", f"eval.max_examples={args.sampled_problems}"]
    sampled_file = run_once(folder / "sampled", "metrics.json", sampled_settings)
    sampled = json.loads(sampled_file.read_text())["sampled"]
    return {
        "greedy": greedy["greedy_accuracy"],
        **{k: sampled[k] for k in sampled if k.startswith(("pass@", "maj@"))},
        "right_for_wrong_reasons": wrong_calculations(folder / "sampled" / "sampled" / "samples.jsonl"),
    }


def wrong_calculations(samples: Path) -> float:
    """The share of correct samples whose <<a op b = c>> calculations do not all hold."""
    from mathlit.answers.calculator import calculations_hold

    correct = [r for r in map(json.loads, samples.open()) if r["correct"]]
    return sum(not calculations_hold(r["completion"]) for r in correct) / max(1, len(correct))


def rl_curve(seed: int, arm: str) -> dict:
    """Per RL step: mean reward, response length and samples drawn (from the run's metrics.csv)."""
    by_step: dict[int, dict] = {}  # a resumed run logs into a new version: the later one wins
    for log in sorted((OUT / f"seed{seed}" / arm / "grpo" / "logs").rglob("metrics.csv")):
        by_step |= {int(r["step"]): r for r in csv.DictReader(log.open()) if r.get("rl/reward_mean")}
    rows = [by_step[step] for step in sorted(by_step)]
    return {
        "reward": [float(r["rl/reward_mean"]) for r in rows],
        "length": [float(r["rl/response_tokens_mean"]) for r in rows],
        "questions_sampled": sum(float(r["rl/questions_sampled"]) for r in rows),
    }


def run_seed(seed: int, args) -> dict:
    sft = args.sft_runs / f"seed{seed}" / "hf"
    while not (sft.parent / "metrics.json").exists():  # its SFT run may still be training (seed_spread.py)
        time.sleep(30)
    row: dict = {"seed": seed}
    for arm in args.arms:
        row[arm] = evaluate_arm(arm, seed, train_arm(arm, seed, sft, args), args)
        if arm in RL_ARMS:
            row[arm]["curve"] = rl_curve(seed, arm)
    return row


def plot(rows: list[dict], arms: list[str]) -> None:
    """bench/plots/online_rl/: pass@k of every arm (means over seeds), and the RL arms' response length and
    reward over steps (means over seeds)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from mathlit.metrics.plots import plot_vs_k

    folder = ROOT / "bench" / "plots" / "online_rl"
    folder.mkdir(parents=True, exist_ok=True)
    arms_sampled = [arm for arm in arms if all("pass@1" in r[arm] for r in rows)]
    ks = sorted(int(k.split("@")[1]) for k in rows[0][arms_sampled[0]] if k.startswith("pass@"))
    curves = {f"{a} pass": {k: statistics.mean(r[a][f"pass@{k}"] for r in rows) for k in ks} for a in arms_sampled}
    plot_vs_k(curves, folder / "pass_at_k.png", f"arith, {len(rows)} seeds: pass@k of each arm (100 problems x 16)")
    for key, label in (("length", "response tokens (mean of the step's samples)"), ("reward", "mean reward")):
        fig, ax = plt.subplots(figsize=(6, 4), dpi=120)
        for arm in (a for a in arms if a in RL_ARMS):
            steps = len(rows[0][arm]["curve"][key])
            ax.plot(
                range(steps), [statistics.mean(r[arm]["curve"][key][s] for r in rows) for s in range(steps)], label=arm
            )
        ax.set_xlabel("RL step")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        ax.legend()
        fig.tight_layout()
        fig.savefig(folder / f"{key}.png")
        plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sft-runs", type=Path, required=True, help="bench/seed_spread.py's runs (seed<S>/hf)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 6, 9])
    parser.add_argument("--arms", nargs="+", default=list(DEFAULT_ARMS), choices=ARMS)
    parser.add_argument("--steps", type=int, default=30, help="optimizer steps of every trained arm")
    parser.add_argument("--lr", type=float, default=1e-4, help="every trained arm's learning rate (constant)")
    parser.add_argument("--max-new-tokens", type=int, default=128)
    parser.add_argument("--sampled-problems", type=int, default=100)
    parser.add_argument("--sampled-arms", nargs="+", default=["sft", "rft", "grpo"], help="arms given pass@k")
    parser.add_argument("--jobs", type=int, default=1, help="seeds run side by side (one thread each)")
    args = parser.parse_args()

    with ThreadPoolExecutor(args.jobs) as pool:
        rows = list(pool.map(lambda seed: run_seed(seed, args), args.seeds))
    summary = {"args": {k: str(v) for k, v in vars(args).items()}, "seeds": rows, "arms": {}}
    for arm in args.arms:
        metrics = {k for row in rows for k in row[arm] if k != "curve"}
        summary["arms"][arm] = {m: statistics.mean(row[arm][m] for row in rows if m in row[arm]) for m in metrics}
        summary["arms"][arm]["seeds_sampled"] = sum("pass@1" in row[arm] for row in rows)
        if arm != "sft_cont" and "sft_cont" in args.arms:
            gains = [row[arm]["greedy"] - row["sft_cont"]["greedy"] for row in rows]
            summary["arms"][arm] |= {"greedy_vs_sft_cont": statistics.mean(gains), "sd": seed_sd(gains)}
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    plot(rows, args.arms)
    print("| arm | greedy | pass@1 | pass@16 | maj@16 | correct with a failed calculation |")
    print("|---|---:|---:|---:|---:|---:|")
    for arm in (a for a in args.arms if summary["arms"][a]["seeds_sampled"]):
        m = summary["arms"][arm]
        print(
            f"| {arm} | {100 * m['greedy']:.1f} | {100 * m['pass@1']:.1f} | {100 * m['pass@16']:.1f} "
            f"| {100 * m['maj@16']:.1f} | {100 * m['right_for_wrong_reasons']:.2f}% |"
        )
    print()
    print("| arm | " + " | ".join(f"seed {row['seed']}" for row in rows) + " | mean | vs sft_cont (paired) |")
    print("|---|" + "---:|" * (len(rows) + 2))
    for arm in args.arms:
        cells = " | ".join(f"{100 * row[arm]['greedy']:.1f}" for row in rows)
        means = summary["arms"][arm]
        paired = f"{100 * means['greedy_vs_sft_cont']:+.1f} ± {100 * means['sd']:.1f}" if "sd" in means else ""
        print(f"| {arm} | {cells} | {100 * means['greedy']:.1f} | {paired} |")


if __name__ == "__main__":
    main()
