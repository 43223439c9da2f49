"""On a real scheduler: a one-node SLURM cluster (launchers/local_slurm_cluster.sh) runs the sbatch script,
a Hydra sweep through hydra-submitit-launcher, and jobs preempted mid-training that resume to the weights of an
uninterrupted run. `make test-slurm` (pytest -m slurm); skipped with the reason where the daemons cannot run."""

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from tests.conftest import DATA, ROOT

pytestmark = [pytest.mark.slurm, pytest.mark.slow]

SCRIPT = ROOT / "launchers" / "local_slurm_cluster.sh"
# The sbatch template asks for 8 GPUs; command-line options override its #SBATCH lines: one CPU task here.
CPU_NODE = ["--gpus-per-node=0", "--ntasks-per-node=1", "--cpus-per-task=1"]
RUN = ["task=sft", "debug=fast", f"paths.data={DATA}"]


class Cluster:
    def __init__(self, folder: Path):
        self.folder = folder
        # One thread per job: two jobs share the two CPUs without oversubscribing them. Unbuffered: the
        # test reads a job's output while it runs.
        self.env = os.environ | {
            "SLURM_CONF": str(folder / "slurm.conf"),
            "OMP_NUM_THREADS": "1",
            "PYTHONUNBUFFERED": "1",
        }

    def run(self, *command: str, timeout: float = 60) -> str:
        done = subprocess.run(command, capture_output=True, text=True, env=self.env, cwd=ROOT, timeout=timeout)
        assert done.returncode == 0, f"{command}: {done.stderr}"
        return done.stdout

    def sbatch(self, run_dir: Path, *overrides: str, options: tuple[str, ...] = ()) -> str:
        """Submits launchers/slurm.sbatch on a CPU node with the run folder given; returns the job id."""
        exports = f"ALL,MATHLIT_PYTHON={sys.executable},MATHLIT_RUN_DIR={run_dir}"
        options = (
            *CPU_NODE,
            f"--output={self.folder}/slurm-%j.out",
            "--open-mode=append",
            f"--export={exports}",
            *options,
        )
        return self.run("sbatch", "--parsable", *options, "launchers/slurm.sbatch", *RUN, *overrides).strip()

    def job(self, job_id: str) -> dict[str, str]:
        """`scontrol show job` as a dict (no accounting daemon here, so no sacct)."""
        return dict(re.findall(r"(\w+)=(\S*)", self.run("scontrol", "show", "job", "--oneliner", job_id)))

    def wait(self, job_id: str, states: set[str], timeout: float = 240) -> dict[str, str]:
        deadline = time.monotonic() + timeout
        while (job := self.job(job_id))["JobState"] not in states:
            assert job["JobState"] in {"PENDING", "RUNNING", "COMPLETING", "REQUEUED", "CONFIGURING"}, (
                job,
                self.output(job_id),
            )
            assert time.monotonic() < deadline, f"job {job_id} still {job['JobState']}"
            time.sleep(1)
        return job

    def output(self, job_id: str) -> str:
        path = self.folder / f"slurm-{job_id}.out"
        return path.read_text() if path.exists() else ""


@pytest.fixture(scope="session")
def slurm(tmp_path_factory):
    folder = tmp_path_factory.mktemp("slurm")
    started = subprocess.run(["bash", SCRIPT, "start", folder], capture_output=True, text=True, timeout=300)
    if started.returncode == 3:
        pytest.skip(started.stderr.strip())
    assert started.returncode == 0, started.stderr
    try:
        yield Cluster(folder)
    finally:
        subprocess.run(["bash", SCRIPT, "stop", folder], check=True, timeout=60)


def same_weights(a: Path, b: Path) -> bool:
    x, y = load_file(a / "hf" / "model.safetensors"), load_file(b / "hf" / "model.safetensors")
    return x.keys() == y.keys() and all(torch.equal(x[k], y[k]) for k in x)


@pytest.fixture(scope="session")
def trained(slurm, tmp_path_factory) -> Path:
    """`sbatch launchers/slurm.sbatch task=sft debug=fast` run to the end: its run folder."""
    run_dir = tmp_path_factory.mktemp("sbatch") / "run"
    job_id = slurm.sbatch(run_dir)
    job = slurm.wait(job_id, {"COMPLETED"})
    assert job["ExitCode"] == "0:0"
    # Lightning saw SLURM (srun's ranks): the preemption handler is armed for this job.
    assert f"requeue job {job_id}" in slurm.output(job_id)
    return run_dir


def test_sbatch_runs_a_task_to_completion(trained):
    assert (trained / "hf" / "model.safetensors").exists()
    assert json.loads((trained / "metrics.json").read_text())["problems"] == 8


def test_default_run_folder_is_per_job_id(slurm):
    options = [*CPU_NODE, f"--output={slurm.folder}/slurm-%j.out"]
    wrap = "MATHLIT_SRUN=echo bash launchers/slurm.sbatch x=1"  # prints the command it would run
    job_id = slurm.run("sbatch", "--parsable", *options, "--wrap", wrap).strip()
    slurm.wait(job_id, {"COMPLETED"}, timeout=30)
    assert f"trainer.devices=1 trainer.num_nodes=1 hydra.run.dir=outputs/slurm/{job_id} x=1" in slurm.output(job_id)


def test_hydra_sweep_runs_each_point_as_a_slurm_job(slurm, tmp_path):
    sweep = tmp_path / "multirun"
    slurm.run(
        sys.executable,
        "-m",
        "mathlit",
        "-m",
        "hydra/launcher=slurm",
        "hydra.launcher.tasks_per_node=1",
        "hydra.launcher.gpus_per_node=0",
        "hydra.launcher.cpus_per_task=1",
        "hydra.launcher.timeout_min=10",
        f"hydra.sweep.dir={sweep}",
        *RUN,
        "data.train_fraction=0.5,1",
        timeout=300,
    )
    for point, fraction in ((0, 0.5), (1, 1.0)):
        assert (sweep / str(point) / "hf" / "model.safetensors").exists()
        assert f"train_fraction: {fraction}" in (sweep / str(point) / ".hydra" / "config.yaml").read_text()
    submitted = list((sweep / ".submitit").glob("*/*_0_log.out"))
    assert submitted, "hydra-submitit-launcher wrote no job logs"


def test_preempted_jobs_resume_to_the_uninterrupted_weights(slurm, tmp_path):
    """`scontrol requeue` kills a running job: it resumes from its periodic checkpoint. SIGUSR1 (what
    `--signal=SIGUSR1@120` sends before the time limit) makes the job checkpoint and requeue itself."""
    steps = ["trainer.max_steps=12", "trainer.checkpoint_every_n_steps=4", "trainer.val_every_n_steps=null"]
    whole = slurm.sbatch(tmp_path / "whole", *steps)
    requeued = slurm.sbatch(tmp_path / "requeued", *steps)
    signalled = slurm.sbatch(tmp_path / "signalled", *steps[::2], "trainer.checkpoint_every_n_steps=100")

    deadline = time.monotonic() + 120
    while not (tmp_path / "requeued" / "checkpoints" / "last.ckpt").exists():
        assert time.monotonic() < deadline and slurm.job(requeued)["JobState"] in {"PENDING", "RUNNING"}
        time.sleep(0.5)
    slurm.run("scontrol", "requeue", requeued)
    while "requeue job" not in slurm.output(signalled):  # training has started
        assert time.monotonic() < deadline, slurm.output(signalled)
        time.sleep(0.5)
    slurm.run("scancel", "--signal=USR1", signalled)  # to the job's tasks, as the scheduler does

    for job_id in (requeued, signalled):
        # A requeued job waits ~2 minutes before it may start again; let it start now.
        slurm.wait(job_id, {"PENDING"}, timeout=120)
        slurm.run("scontrol", "update", f"JobId={job_id}", "StartTime=now")
    for job_id, name in ((whole, "whole"), (requeued, "requeued"), (signalled, "signalled")):
        job = slurm.wait(job_id, {"COMPLETED"})
        assert job["Restarts"] == ("0" if name == "whole" else "1")
        if name != "whole":
            assert "resuming from" in slurm.output(job_id)
            # Two starts, the second logging from a step after the first.
            assert sorted(p.name for p in (tmp_path / name / "logs").iterdir()) == ["version_0", "version_1"]
            assert same_weights(tmp_path / "whole", tmp_path / name), name
    assert "SIGUSR1 at step" in slurm.output(signalled)


def test_sharded_eval_over_a_job_array_matches_one_process(slurm, trained, tmp_path):
    # 130 problems: three shards of 64, two for array task 0 and one for task 1.
    evals = [
        "task=eval",
        f"model.path={trained}/hf",
        "eval.n=2",
        "data.arith.num_test=130",
        "data.max_test_examples=130",
    ]
    whole = slurm.sbatch(tmp_path / "whole", *evals)
    array = slurm.sbatch(
        tmp_path / "sharded", *evals, "eval.shard=${oc.env:SLURM_ARRAY_TASK_ID}/2", options=("--array=0-1",)
    )
    merge = slurm.sbatch(tmp_path / "sharded", *evals, options=(f"--dependency=afterok:{array}",))
    for job_id in (f"{array}_0", f"{array}_1", merge, whole):
        slurm.wait(job_id, {"COMPLETED"})
    for name in ("metrics.json", "greedy/samples.jsonl", "sampled/samples.jsonl"):
        assert (tmp_path / "sharded" / name).read_text() == (tmp_path / "whole" / name).read_text(), name
    assert json.loads((tmp_path / "whole" / "metrics.json").read_text())["sampled"]["problems"] == 130
