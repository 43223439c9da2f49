"""How long RFT's sampling stage takes with 1 and with 2 ranks (trainer.strategy=ddp trainer.devices=2, CPU, gloo).

    OMP_NUM_THREADS=1 python bench/rft_sampling_ranks.py                    # tiny_llama, arith, k=8, 512 questions

Each setting is one `python -m mathlit task=rft rft.rounds=1` run: a 2-step SFT stage at a negligible lr (both
settings sample the same weights), round 1's sampling by the RFT callback, a 2-step rft1 stage. The sampling stage's
time is each rank's "done in" of rft/round1/samples in its log file, the slowest rank's for 2 ranks (process start,
training and the model load are not counted; 1 s resolution). Reports both times, the speed-up and whether the two runs'
samples.jsonl are identical, to bench/out/rft_sampling_ranks.json.
"""

import argparse
import json
import re
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench.runs import run_once  # noqa: E402

OUT = ROOT / "bench" / "out" / "rft_sampling_ranks"
DONE = re.compile(r"rft/round1/samples: \d+/\d+ samples \(\d+%\), .* done in ([\d:]+)")  # sampled, not read back
SETTINGS = {"one_rank": [], "2_ranks": ["trainer.strategy=ddp", "trainer.devices=2"]}


def stage_seconds(run_dir: Path) -> list[int]:
    """Each rank's sampling time, from the progress lines of the run's log files (one per rank)."""
    times = []
    for log in sorted(run_dir.glob("*.log")):  # Hydra's file log per rank (bench.log repeats rank 0's console)
        if log.name != "bench.log":
            times += [
                sum(int(part) * 60**i for i, part in enumerate(reversed(t.split(":"))))
                for t in DONE.findall(log.read_text())
            ]
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=512)
    parser.add_argument("--k", type=int, default=8)
    parser.add_argument("overrides", nargs="*", default=[], help="more config overrides")
    args = parser.parse_args()
    base = ["task=rft", "model=tiny_llama", "data=arith", "trainer.accelerator=cpu", "rft.rounds=1", "eval.n=0"]
    base += ["trainer.max_steps=2", "trainer.global_batch_size=32", "optim.lr=1e-12", "data.max_test_examples=1"]
    base += [f"rft.k={args.k}", f"rft.max_questions={args.questions}", *args.overrides]
    report = {"overrides": base}
    for name, extra in SETTINGS.items():
        shutil.rmtree(OUT / name, ignore_errors=True)
        run_once(OUT / name, "metrics.json", [*base, *extra])
        report[f"{name}_s"] = max(stage_seconds(OUT / name))
        report[f"{name}_rank_s"] = stage_seconds(OUT / name)
    report["speedup"] = round(report["one_rank_s"] / report["2_ranks_s"], 3)
    samples = [(OUT / name / "rft" / "round1" / "samples" / "samples.jsonl").read_text() for name in SETTINGS]
    report["samples"] = samples[0].count("\n")
    report["identical"] = samples[0] == samples[1]
    (OUT.parent / "rft_sampling_ranks.json").write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
