"""Two nodes for real: two torchrun agents on this machine (`torchrun --nnodes=2 --nproc-per-node=1`, c10d
rendezvous on localhost, gloo) run one job of two ranks, one per "node". SFT ends at the weights one process
trains; an RFT round (after an SFT stage, or from rft.sft_path before any fit), task=eval and task=synth are
sampled by both nodes, each its share of the shards, to one process's samples, global rank 0 alone writing."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from safetensors.torch import load_file

from tests.conftest import DATA, MICRO_MODEL, ROOT

pytestmark = pytest.mark.slow
TORCHRUN = Path(sys.executable).with_name("torchrun")
BASE = ["debug=fast", *MICRO_MODEL, "trainer.accelerator=cpu", f"paths.data={DATA}"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def one_process(run_dir: Path, *overrides: str) -> None:
    command = [sys.executable, "-m", "mathlit", *BASE, f"hydra.run.dir={run_dir}", *overrides]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]


def two_nodes(run_dir: Path, *overrides: str) -> list[str]:
    """The job on two node agents; each agent's output."""
    rendezvous = ["--nnodes=2", "--nproc-per-node=1", "--rdzv-backend=c10d", f"--rdzv-endpoint=127.0.0.1:{free_port()}"]
    job = ["-m", "mathlit", *BASE, f"hydra.run.dir={run_dir}", "trainer.strategy=ddp", "trainer.num_nodes=2"]
    command = [str(TORCHRUN), *rendezvous, f"--rdzv-id={run_dir.name}", "--no-python", sys.executable, *job, *overrides]
    env = os.environ | {"OMP_NUM_THREADS": "1"}
    agents = [
        subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for _ in range(2)
    ]
    outputs = [agent.communicate(timeout=300)[0] for agent in agents]
    assert [agent.returncode for agent in agents] == [0, 0], "\n".join(out[-2000:] for out in outputs)
    return outputs


def test_two_nodes_train_the_weights_of_one_process(tmp_path):
    one_process(tmp_path / "one", "task=sft")
    outputs = two_nodes(tmp_path / "two", "task=sft")
    assert sorted("GLOBAL_RANK: 1, MEMBER: 2/2" in out for out in outputs) == [False, True]
    single, nodes = (load_file(tmp_path / run / "hf" / "model.safetensors") for run in ("one", "two"))
    assert single.keys() == nodes.keys()
    for name, weight in single.items():
        assert (weight - nodes[name]).abs().max() < 1e-4, name


def test_two_nodes_sample_an_rft_round_as_one_process(tmp_path):
    # One step at a negligible lr: both runs sample the same weights. 100 questions: 2 shards, one per node.
    rft = ["task=rft", "trainer.max_steps=1", "optim.lr=1e-12", "data.max_train_examples=128", "rft.k=2"]
    rft += ["rft.max_questions=100", "rft.max_new_tokens=16", "sampler.max_new_tokens=16"]
    one_process(tmp_path / "one", *rft)
    outputs = two_nodes(tmp_path / "two", *rft)
    for rank in (0, 1):
        assert any(f"rank {rank} of 2 samples shards {rank}, {rank}+2" in out for out in outputs)
    samples = Path("rft/round1/samples/samples.jsonl")
    one = (tmp_path / "one" / samples).read_text()
    assert one.count("\n") == 200 and (tmp_path / "two" / samples).read_text() == one


def test_two_nodes_evaluate_as_one_process(tmp_path, tokenizer):
    """task=eval trains nothing: its ranks join a group made from torchrun's environment and sample their shards
    (100 problems: 2 shards of each pass); global rank 0's metrics are one process's."""
    from mathlit.models.build import build_model, save_hf
    from tests.conftest import make_cfg

    folder = save_hf(build_model(make_cfg(*MICRO_MODEL).model, tokenizer), tokenizer, tmp_path / "hf")
    evaluate = ["task=eval", f"model.path={folder}", "eval.n=2", "eval.max_examples=100", "data.arith.num_test=100"]
    evaluate += ["data.max_test_examples=100", "sampler.max_new_tokens=16"]
    one_process(tmp_path / "one", *evaluate)
    outputs = two_nodes(tmp_path / "two", *evaluate)
    for rank in (0, 1):
        assert any(f"sampled: rank {rank} of 2 samples shards {rank}, {rank}+2" in out for out in outputs)
    assert (tmp_path / "one" / "sampled" / "samples.jsonl").read_text().count("\n") == 200
    for name in ("greedy/samples.jsonl", "sampled/samples.jsonl"):
        assert (tmp_path / "two" / name).read_text() == (tmp_path / "one" / name).read_text()
    one, two = (json.loads((tmp_path / run / "metrics.json").read_text()) for run in ("one", "two"))
    assert one.pop("headline").keys() == two.pop("headline").keys() and one == two


AUDIT = """
import json, os, sys

_busy = []  # the hook's own writes are not recorded (nor re-entered)

def _record(event, args):
    if _busy:
        return
    if event == "open" and isinstance(args[0], (str, bytes)) and args[1] and any(c in str(args[1]) for c in "wax+"):
        path = os.fsdecode(args[0])
    elif event in ("os.rename", "os.replace"):
        path = os.fsdecode(args[1])
    elif event in ("os.mkdir", "os.remove", "os.rmdir", "shutil.rmtree"):
        path = os.fsdecode(args[0])
    else:
        return
    _busy.append(1)
    try:
        rank = os.environ.get("RANK", os.environ.get("LOCAL_RANK", "agent"))  # torchrun's, or Lightning's launcher's
        with open(f"{os.environ['WRITES_LOG']}.{rank}.{os.getpid()}", "a") as log:
            log.write(json.dumps([event, os.path.abspath(path)]) + "\\n")
    finally:
        _busy.pop()

if "WRITES_LOG" in os.environ:
    sys.addaudithook(_record)
"""


def record_writes(tmp_path: Path, monkeypatch) -> None:
    """Every file operation of the processes started from now on, recorded per rank (a Python audit hook)."""
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(AUDIT)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(hook), str(ROOT), os.environ.get("PYTHONPATH", "")]))
    monkeypatch.setenv("WRITES_LOG", str(tmp_path / "writes"))


def writes_of(tmp_path: Path, rank: str, folder: Path) -> tuple[list, list]:
    """What the processes of `rank` wrote, renamed or removed in `folder`: (in sampling shards, anything else but
    the folder and shards/ made)."""
    logs = [path for path in tmp_path.glob(f"writes.{rank}.*")]
    assert logs, f"rank {rank} recorded nothing"
    inside = [(event, path) for log in logs for event, path in map(json.loads, log.open())]
    inside = [(event, path) for event, path in inside if path == str(folder) or path.startswith(f"{folder}{os.sep}")]
    shards = [(event, path) for event, path in inside if f"{os.sep}shards{os.sep}" in path]
    made = [(e, p) for e, p in inside if e == "os.mkdir" and (p == str(folder) or p.endswith(f"{os.sep}shards"))]
    return shards, [(event, path) for event, path in inside if (event, path) not in shards + made]


def test_node_rank_1_writes_nothing_in_the_run_folder_but_its_shards(tmp_path, tokenizer, monkeypatch):
    """Every file operation of both node agents recorded (a Python audit hook): global rank 1 writes, renames or
    removes nothing in the run folder but its own sampling shards; run-level files are rank 0's."""
    from mathlit.models.build import build_model, save_hf
    from tests.conftest import make_cfg

    folder = save_hf(build_model(make_cfg(*MICRO_MODEL).model, tokenizer), tokenizer, tmp_path / "hf")
    record_writes(tmp_path, monkeypatch)
    evaluate = ["task=eval", f"model.path={folder}", "eval.n=2", "eval.max_examples=100", "data.arith.num_test=100"]
    two_nodes(tmp_path / "two", *evaluate, "data.max_test_examples=100", "sampler.max_new_tokens=16")
    assert list(tmp_path.glob("writes.0.*"))
    shards, others = writes_of(tmp_path, "1", tmp_path / "two")
    assert shards and others == []  # it did sample, and wrote nothing else
    assert (tmp_path / "two" / ".hydra" / "config.yaml").exists() and (tmp_path / "two" / "__main__.log").exists()


def split_as_one_process(tmp_path: Path, outputs: list[str], *folders: str) -> None:
    """Each folder's samples (2 shards or more) were split over both ranks, each logging its share, and are one
    process's (tmp_path/one)."""
    for folder in folders:
        for rank in (0, 1):
            assert any(f"{folder}: rank {rank} of 2 samples shards {rank}, {rank}+2" in out for out in outputs)
        one = (tmp_path / "one" / folder / "samples.jsonl").read_text()
        assert one.count("\n") > 64 and (tmp_path / "two" / folder / "samples.jsonl").read_text() == one, folder


def same_files(tmp_path: Path, *names: str) -> None:
    for name in names:
        assert (tmp_path / "two" / name).read_text() == (tmp_path / "one" / name).read_text(), name


def test_two_nodes_sample_the_round_of_a_given_sft_model_as_one_process(tmp_path, tokenizer, monkeypatch):
    """rft.sft_path: the first round is sampled before any fit, by ranks that join torchrun's group for it; rank 1
    writes nothing in the round's folder but its shards, and the run ends at one process's samples and metrics."""
    from mathlit.models.build import build_model, save_hf
    from tests.conftest import make_cfg

    folder = save_hf(build_model(make_cfg(*MICRO_MODEL).model, tokenizer), tokenizer, tmp_path / "hf")
    rft = ["task=rft", f"rft.sft_path={folder}", "trainer.max_steps=1", "optim.lr=1e-12", "rft.k=2"]
    rft += [
        "data.max_train_examples=128",
        "rft.max_questions=100",
        "rft.max_new_tokens=16",
        "sampler.max_new_tokens=16",
    ]
    rft += ["data.arith.num_test=100", "data.max_test_examples=100"]
    one_process(tmp_path / "one", *rft)
    record_writes(tmp_path, monkeypatch)
    outputs = two_nodes(tmp_path / "two", *rft)
    split_as_one_process(tmp_path, outputs, "rft/round1/samples", "rft1/test/greedy")
    same_files(tmp_path, "rft/round1/augmented.jsonl", "rft/round1/report.json")
    shards, others = writes_of(tmp_path, "1", tmp_path / "two" / "rft")
    assert shards and others == []
    one, two = (json.loads((tmp_path / run / "metrics.json").read_text()) for run in ("one", "two"))
    for row in one["stages"] + two["stages"]:
        row.pop("model")  # its run's folder
    assert one["stages"] == two["stages"]


def test_two_nodes_write_synthetic_questions_as_one_process(tmp_path, monkeypatch):
    """task=synth trains nothing: its ranks join torchrun's group and sample each call's shards (100 seeds: 2
    shards of the create and verify calls); rank 1 writes nothing in the run folder but its shards."""
    synth = ["task=synth", "synth.seeds=100", "synth.per_seed=1", "synth.answers=1", "synth.max_new_tokens=16"]
    synth += ["data.max_train_examples=128", "sampler.max_new_tokens=16"]
    synth += [f"synth.prompts.{call}='{call}: {{question}}'" for call in ("create", "verify", "answer")]
    one_process(tmp_path / "one", *synth)
    record_writes(tmp_path, monkeypatch)
    outputs = two_nodes(tmp_path / "two", *synth)
    split_as_one_process(tmp_path, outputs, "create", "verify")
    same_files(tmp_path, "synthetic.jsonl", "rejected.jsonl", "synth_report.json")
    shards, others = writes_of(tmp_path, "1", tmp_path / "two")
    assert shards and others == []
