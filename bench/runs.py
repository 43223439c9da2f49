"""Running `python -m mathlit` for a benchmark (once per run folder, logged beside it) and summarising seeds."""

import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_once(run_dir: Path, result: str, overrides: list[str]) -> Path:
    """`python -m mathlit <overrides>` into run_dir unless its `result` file exists (a finished run is read
    back, an interrupted one resumes); output goes to run_dir/bench.log. Returns the result file."""
    if not (run_dir / result).exists():
        run_dir.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "mathlit", *overrides, f"hydra.run.dir={run_dir}"]
        with open(run_dir / "bench.log", "a") as log:
            subprocess.run(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, check=True)
    return run_dir / result


def seed_sd(values: list[float]) -> float:
    """The sample standard deviation across seeds; 0 for a single seed (statistics.stdev needs two)."""
    return statistics.stdev(values) if len(values) > 1 else 0.0
