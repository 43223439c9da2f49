"""The test sampling temperature, chosen on a validation split (issue 14): maj@N and pass@N against temperature.

    python bench/temperature_curve.py --generators bench/out/seed_spread/bs16_1600 --seeds 1 2 3   # ~12 min

The validation problems are arith problems of another draw (data.arith.seed 4321, the training side of arith's
hash split, so never a test problem) that are not among the default training problems either. Each (seed,
temperature) is a job of one Hydra multirun: `python -m mathlit -m task=eval data=custom data.test_path=<val>
model.path=<seed's generator>/hf eval.temperature=...`, into bench/out/temperature_curve/; the curve (mean over
seeds) and the temperature with the best mean maj@N are printed and written to bench/out/temperature_curve.json.
"""

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

from omegaconf import OmegaConf

from mathlit.data.arith import generate
from mathlit.data.formats import example_to_row
from mathlit.io import write_jsonl
from mathlit.metrics.sweep import find_runs

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out" / "temperature_curve"


def validation_file(path: Path, problems: int, seed: int = 4321) -> Path:
    """`problems` arith problems of another draw, none of them a default training or test problem."""
    default = OmegaConf.load(ROOT / "conf" / "data" / "arith.yaml").arith
    train, test = generate(default)
    known = {e.question for e in train + test}
    other = OmegaConf.merge(default, {"seed": seed, "num_train": 2 * problems, "num_test": 0})
    rows = [example_to_row(e) for e in generate(other)[0] if e.question not in known][:problems]
    write_jsonl(path, rows)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--generators", type=Path, required=True, help="seed_spread.py's runs: seed<S>/hf")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--temperatures", default="0.3,0.5,0.7,1.0")
    parser.add_argument("--n", type=int, default=16)
    parser.add_argument("--problems", type=int, default=500)
    args = parser.parse_args()

    val = validation_file(OUT.parent / "temperature_curve_val.jsonl", args.problems)
    if not (OUT / "sweep.json").exists():
        models = ",".join(str((args.generators / f"seed{s}" / "hf").resolve()) for s in args.seeds)
        command = [sys.executable, "-m", "mathlit", "-m", "task=eval", "model=hf", "data=custom"]
        command += [f"data.test_path={val}"]
        command += [f"model.path={models}", f"eval.temperature={args.temperatures}", f"eval.n={args.n}"]
        command += ["sampler=vllm", "sampler.gpu_memory_utilization=0.2", f"hydra.sweep.dir={OUT}"]
        subprocess.run(command, cwd=ROOT, check=True)

    curve: dict[float, dict[str, dict[str, float]]] = {}  # temperature -> metric -> generator (seed folder) -> value
    runs, _ = find_runs([OUT])
    for run in runs:
        metrics = json.loads((run.folder / "metrics.json").read_text())
        point = curve.setdefault(
            float(run.overrides["eval.temperature"]), {"maj": {}, "pass": {}, "pass1": {}, "greedy": {}}
        )
        generator = Path(run.overrides["model.path"]).parent.name
        point["maj"][generator] = metrics["sampled"][f"maj@{args.n}"]
        point["pass"][generator] = metrics["sampled"][f"pass@{args.n}"]
        point["pass1"][generator] = metrics["sampled"]["pass@1"]
        point["greedy"][generator] = metrics["greedy_accuracy"]
    means = {t: {k: statistics.mean(v.values()) for k, v in point.items()} for t, point in sorted(curve.items())}
    best = max(means, key=lambda t: means[t]["maj"])
    (OUT.parent / "temperature_curve.json").write_text(
        json.dumps(
            {"problems": args.problems, "n": args.n, "seeds": args.seeds, "curve": curve, "best": best}, indent=2
        )
    )
    print(f"| temperature | greedy | pass@1 | maj@{args.n} (seeds) | pass@{args.n} | ({args.problems} problems)")
    for t, m in means.items():
        per_seed = " / ".join(f"{100 * v:.1f}" for _, v in sorted(curve[t]["maj"].items()))
        cells = [f"{100 * m['greedy']:.1f}", f"{100 * m['pass1']:.1f}", f"{100 * m['maj']:.1f} ({per_seed})"]
        print(f"| {t} | " + " | ".join([*cells, f"{100 * m['pass']:.1f}"]) + " |")
    print(f"best maj@{args.n} on validation: temperature {best}")


if __name__ == "__main__":
    main()
