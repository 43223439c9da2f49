"""Data-parallel sampling throughput: one process against R ranks (CPU processes, gloo) sampling the same pass.

    OMP_NUM_THREADS=1 python bench/data_parallel_sampling.py --ranks 2          # tiny_llama, arith test, n = 8

Job: the eval purpose (eval.temperature, n samples per problem) over the test split (or its first --problems)
with HF generate, one thread per process, the model the default random-init tiny_llama (bench/samplers.py).
Each setting samples into a fresh folder; the time is that of `Policy.sample` alone (from a barrier after
every rank has loaded the model to the last rank's return), so process start and model load are not counted.
Reports samples/s of each setting, the speed-up, and whether the records are identical, to
bench/out/data_parallel_sampling.json.
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
    """One rank: load the Policy, wait for the others, time its share of the pass; rank 0 writes the result."""
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
    start = time.perf_counter()
    records = policy.sample(test, OUT / f"ranks{world}", "eval", together=world > 1)
    seconds = time.perf_counter() - start
    if rank == 0:
        result.write_text(json.dumps({"seconds": seconds, "records": records}))


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
    return json.loads(result.read_text())


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
    one, many = run(1, folder, args.problems, overrides), run(args.ranks, folder, args.problems, overrides)
    samples = len(one["records"])
    report = {
        "problems": len({r["id"] for r in one["records"]}),
        "samples": samples,
        "overrides": overrides,
        "one_rank_s": round(one["seconds"], 2),
        f"{args.ranks}_ranks_s": round(many["seconds"], 2),
        "one_rank_samples_per_s": round(samples / one["seconds"], 2),
        f"{args.ranks}_ranks_samples_per_s": round(samples / many["seconds"], 2),
        "speedup": round(one["seconds"] / many["seconds"], 3),
        "identical": one["records"] == many["records"],
    }
    (ROOT / "bench" / "out" / "data_parallel_sampling.json").write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
