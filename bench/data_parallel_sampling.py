"""Data-parallel sampling throughput: one process against R ranks (CPU processes, gloo) sampling the same pass.

    OMP_NUM_THREADS=1 python bench/data_parallel_sampling.py --ranks 2          # tiny_llama, arith test, n = 8

Job: the eval purpose (eval.temperature, n samples per problem) over the test split (or its first --problems)
with HF generate, one thread per process, the model the default random-init tiny_llama (bench/samplers.py).
Each setting samples into a fresh folder; the time is that of `Policy.sample` alone (from a barrier after
every rank has loaded the model to the last rank's return), so process start and model load are not counted.
Reports samples/s of each setting, the speed-up (wall clock; and by CPU time, one rank's over the busiest rank's,
which is the speed-up on idle cores where other jobs share the machine), and whether every rank's records are
those of one process, to bench/out/data_parallel_sampling.json.
"""

import argparse
import json
import multiprocessing
import shutil
import socket
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
OUT = ROOT / "bench" / "out" / "data_parallel_sampling"


def sample(rank: int, world: int, port: int, folder: Path, problems: int, overrides: list, result: Path) -> None:
    """One rank: load the Policy, wait for the others, time its share of the pass (wall and CPU seconds)."""
    import torch
    import torch.distributed as dist

    from mathlit.data.splits import load_test
    from mathlit.models.build import load_tokenizer
    from mathlit.sampling import SamplingParams
    from mathlit.sampling.policy import Policy
    from mathlit.sampling.ranks import run_ranks
    from tests.conftest import make_cfg

    torch.set_num_threads(1)
    cfg = make_cfg("sampler=hf", f"model.path={folder}", *overrides)
    test = load_test(cfg.data)[:problems]
    policy = Policy(cfg, load_tokenizer(cfg.model), folder=folder)
    policy.generate(["warm-up"], SamplingParams(max_new_tokens=1))  # the model loaded before the clock starts
    if world > 1:
        dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world)
        run_ranks(cfg.trainer.collective_timeout_s).wait()
    start, cpu = time.perf_counter(), time.process_time()
    records = policy.sample(test, OUT / f"ranks{world}", "eval", together=world > 1)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    Path(f"{result}.{rank}").write_text(json.dumps({"seconds": seconds, "cpu_seconds": cpu, "records": records}))


def run(world: int, folder: Path, problems: int, overrides: list) -> dict:
    shutil.rmtree(OUT / f"ranks{world}", ignore_errors=True)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = OUT / f"ranks{world}.json"
    spawn = multiprocessing.get_context("spawn")
    args = [(r, world, port, folder, problems, overrides, result) for r in range(world)]
    ranks = [spawn.Process(target=sample, args=a) for a in args]
    for p in ranks:
        p.start()
    for p in ranks:
        p.join()
    if any(p.exitcode for p in ranks):
        raise SystemExit(f"a rank of {world} failed: exit codes {[p.exitcode for p in ranks]}")
    return [json.loads(Path(f"{result}.{r}").read_text()) for r in range(world)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ranks", type=int, default=2)
    parser.add_argument("--problems", type=int, default=None, help="the first N test problems (default: all)")
    parser.add_argument("overrides", nargs="*", default=[], help="config overrides (default eval.n=8)")
    args = parser.parse_args()
    from bench.samplers import tiny_folder

    OUT.mkdir(parents=True, exist_ok=True)
    folder = tiny_folder(OUT / "tiny_random")
    overrides = ["eval.n=8", *args.overrides]
    [one], many = run(1, folder, args.problems, overrides), run(args.ranks, folder, args.problems, overrides)
    samples, wall = len(one["records"]), max(rank["seconds"] for rank in many)
    busiest = max(rank["cpu_seconds"] for rank in many)
    report = {
        "problems": len({r["id"] for r in one["records"]}),
        "samples": samples,
        "overrides": overrides,
        "one_rank_s": round(one["seconds"], 2),
        f"{args.ranks}_ranks_s": round(wall, 2),
        "one_rank_samples_per_s": round(samples / one["seconds"], 2),
        f"{args.ranks}_ranks_samples_per_s": round(samples / wall, 2),
        "speedup": round(one["seconds"] / wall, 3),
        # what the speed-up is on idle cores: one rank's CPU time over the busiest rank's (other load excluded)
        "cpu_speedup": round(one["cpu_seconds"] / busiest, 3),
        "rank_cpu_s": [round(rank["cpu_seconds"], 2) for rank in many],
        "identical": all(rank["records"] == one["records"] for rank in many),
    }
    (ROOT / "bench" / "out" / "data_parallel_sampling.json").write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
