"""Two nodes for real: two torchrun agents on this machine (`torchrun --nnodes=2 --nproc-per-node=1`, c10d
rendezvous on localhost, gloo) run one job of two ranks, one per "node". SFT ends at the weights one process
trains; an RFT round is sampled by both nodes, each its share of the shards, to one process's samples."""

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
        with open(f"{os.environ['WRITES_LOG']}.{os.environ.get('RANK', 'agent')}.{os.getpid()}", "a") as log:
            log.write(json.dumps([event, os.path.abspath(path)]) + "\\n")
    finally:
        _busy.pop()

if "WRITES_LOG" in os.environ:
    sys.addaudithook(_record)
"""


def test_node_rank_1_writes_nothing_in_the_run_folder_but_its_shards(tmp_path, tokenizer, monkeypatch):
    """Every file operation of both node agents recorded (a Python audit hook): global rank 1 writes, renames or
    removes nothing in the run folder but its own sampling shards; run-level files are rank 0's."""
    from mathlit.models.build import build_model, save_hf
    from tests.conftest import make_cfg

    folder = save_hf(build_model(make_cfg(*MICRO_MODEL).model, tokenizer), tokenizer, tmp_path / "hf")
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(AUDIT)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(hook), str(ROOT), os.environ.get("PYTHONPATH", "")]))
    monkeypatch.setenv("WRITES_LOG", str(tmp_path / "writes"))
    evaluate = ["task=eval", f"model.path={folder}", "eval.n=2", "eval.max_examples=100", "data.arith.num_test=100"]
    two_nodes(tmp_path / "two", *evaluate, "data.max_test_examples=100", "sampler.max_new_tokens=16")
    run = str(tmp_path / "two")
    logs = {path.name: path for path in tmp_path.glob("writes.*")}
    assert any(name.startswith("writes.0.") for name in logs) and any(name.startswith("writes.1.") for name in logs)
    rank1 = [json.loads(line) for name, path in logs.items() if name.startswith("writes.1.") for line in path.open()]
    inside = [(event, path) for event, path in rank1 if path == run or path.startswith(run + os.sep)]
    shards = [(event, path) for event, path in inside if f"{os.sep}shards{os.sep}" in path]
    assert shards, inside  # it did sample
    folders = [(e, p) for e, p in inside if e == "os.mkdir" and (p == run or p.endswith(f"{os.sep}shards"))]
    assert [(event, path) for event, path in inside if (event, path) not in shards + folders] == []
    assert (tmp_path / "two" / ".hydra" / "config.yaml").exists() and (tmp_path / "two" / "__main__.log").exists()
