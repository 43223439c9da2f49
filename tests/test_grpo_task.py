"""task=grpo end to end on a tiny model: SFT stage, rollouts with stored rewards, per-step logs, report; a run
killed with SIGKILL resumes to the same weights and rewards, reusing the interrupted step's stored rollouts;
two DDP ranks end where one process does."""

import csv
import json
import os
import subprocess
import sys

import pytest
import torch
from omegaconf import OmegaConf
from safetensors.torch import load_file

import mathlit.tasks.grpo as grpo
from mathlit.errors import ConfigError
from mathlit.rl.settings import check_rl
from mathlit.tasks import run_task
from tests.conftest import DATA, MICRO_MODEL, ROOT, make_cfg
from tests.test_faults import kill9, micro_folder, start_hanging

GRPO = ["task=grpo", "debug=fast", *MICRO_MODEL]


def logged(stage_dir):
    with open(stage_dir / "logs" / "version_0" / "metrics.csv") as f:
        return list(csv.DictReader(f))


def test_grpo_samples_rewards_and_updates_each_step(tmp_path, monkeypatch):
    checks = []
    monkeypatch.setattr(grpo, "check_rl", lambda *args: checks.append(args) or check_rl(*args))
    run_task(make_cfg(*GRPO, "rl.reward.format=0.5", "rl.eval_every=1", "eval.n=0", run_dir=tmp_path))
    assert len(checks) == 1  # the rl.* settings are checked once, at start-up
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["rl_steps"] == 2 and 0 <= metrics["greedy_accuracy"] <= 1
    assert list(metrics["reward_curve"]) == ["0", "1"] and list(metrics["test_accuracy_curve"]) == ["1", "2"]
    # rl.eval_every=1 divides rl.max_steps=2: the final weights are evaluated once (grpo/test/), not again in
    # training, and that evaluation is the curve's last point
    assert [p.name for p in (tmp_path / "grpo" / "evals").iterdir()] == ["00001"]
    assert metrics["test_accuracy_curve"]["2"] == metrics["greedy_accuracy"]
    assert (tmp_path / "grpo" / "evals" / "00001" / "greedy" / "samples.jsonl").exists()
    assert (tmp_path / "grpo" / "reward.png").exists()
    for step in ("00000", "00001"):
        draw = tmp_path / "rollouts" / step / "draw0"
        rows = [json.loads(line) for line in (draw / "rewards.jsonl").open()]
        assert len(rows) == 2 * 4 and [r["sample_idx"] for r in rows] == [0, 1, 2, 3] * 2
        # each sample's reward, terms and verdict, named by (id, sample_idx): its tokens stay in the shards only
        assert all(r.keys() == {"id", "sample_idx", "reward", "reward_terms", "verdict"} for r in rows)
        samples = {
            (s["id"], s["sample_idx"]): s for f in (draw / "shards").glob("*.jsonl") for s in map(json.loads, f.open())
        }
        assert samples.keys() == {(r["id"], r["sample_idx"]) for r in rows}
        for r in rows:
            sample = samples[r["id"], r["sample_idx"]]
            assert r["reward"] == float(sample["correct"]) + 0.5 * (sample["answer"] is not None)
    steps = logged(tmp_path / "grpo")
    assert len(steps) == 2
    for key in (
        "reward_mean",
        "share_correct",
        "share_unreadable",
        "groups_with_signal",
        "entropy",
        "clip_fraction",
        "response_tokens_mean",
        "sample_seconds",
        "train_seconds",
        "test_greedy_accuracy",
    ):
        assert steps[0][f"rl/{key}"] != "", key
    assert (tmp_path / "grpo" / "hf" / "model.safetensors").exists()


def test_dapo_dynamic_sampling_draws_again_for_groups_without_signal(tmp_path):
    # The untrained micro model solves nothing: every group is all-wrong, so each step draws rl.max_draws times
    # and trains on no group (a step that changes nothing).
    run_task(make_cfg(*GRPO, "rl.algorithm=dapo", "rl.max_draws=2", "rl.max_steps=1", run_dir=tmp_path))
    assert sorted(p.name for p in (tmp_path / "rollouts" / "00000").iterdir()) == ["draw0", "draw1"]
    (step,) = logged(tmp_path / "grpo")
    assert float(step["rl/groups_trained"]) == 0 and float(step["rl/questions_sampled"]) == 4


def test_a_run_killed_with_sigkill_resumes_to_the_same_weights_and_rewards(tmp_path):
    """kill -9 right after step 2's rollouts are rewarded and stored, before its update; the rerun in the folder
    reuses them (its shards untouched) and ends bitwise where an uninterrupted run ends."""
    args = [*GRPO, "rl.max_steps=3", "trainer.checkpoint_every_n_steps=1", "rl.reward.format=0.5"]
    run_task(make_cfg(*args, run_dir=tmp_path / "whole"))
    killed = tmp_path / "killed"
    process = start_hanging(
        killed,
        args,
        module="mathlit.tasks.grpo",
        cls=None,
        name="write_jsonl",
        condition="args[0].name == 'rewards.jsonl' and args[0].parent.parent.name == '00002'",
    )
    kill9(process)
    shard = killed / "rollouts" / "00002" / "draw0" / "shards" / "00000.jsonl"
    written = shard.stat().st_mtime_ns
    run_task(make_cfg(*args, run_dir=killed))
    assert shard.stat().st_mtime_ns == written  # the stored rollouts were reused, not drawn again

    def outputs(run):
        steps = [(tmp_path / run / "rollouts" / f"0000{s}" / "draw0" / "rewards.jsonl").read_text() for s in range(3)]
        return (tmp_path / run / "grpo" / "hf" / "model.safetensors").read_bytes(), steps

    assert outputs("killed") == outputs("whole")
    # and the steps did train: rewards with signal (the format term), weights moved away from the SFT stage's
    assert any(float(s["rl/groups_with_signal"]) > 0 for s in logged(tmp_path / "whole" / "grpo"))
    sft = (tmp_path / "whole" / "sft" / "hf" / "model.safetensors").read_bytes()
    assert outputs("whole")[0] != sft


def test_kl_to_the_starting_weights_with_several_passes_and_parts_per_batch(tmp_path):
    overrides = ["rl.kl_coef=0.04", "rl.updates_per_batch=2", "rl.minibatches=2", "rl.reward.format=0.5"]
    run_task(make_cfg(*GRPO, *overrides, run_dir=tmp_path))
    steps = logged(tmp_path / "grpo")
    assert len(steps) == 2 and all(float(s["rl/kl"]) >= 0 for s in steps)
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["headline"]["steps"] == 8 and metrics["rl_steps"] == 2  # 2 batches x 2 passes x 2 parts
    # the frozen reference is rebuilt from the starting weights, never checkpointed
    state = torch.load(tmp_path / "grpo" / "checkpoints" / "last.ckpt", weights_only=False)["state_dict"]
    assert state and all(key.startswith("model.") for key in state)


def test_lora_trains_adapters_and_exports_merged_weights(tmp_path):
    run_task(make_cfg(*GRPO, "model.lora.r=4", "rl.max_steps=1", run_dir=tmp_path))
    assert (tmp_path / "grpo" / "adapter" / "adapter_config.json").exists()
    assert (tmp_path / "grpo" / "hf" / "model.safetensors").exists()


def fake_rollouts(policy, model, step, questions, out_dir, seed):
    """Sample i of the j-th question of a draw answers right when i == j (mod G); the others answer 0."""
    from mathlit.answers.grading import Grading
    from mathlit.sampling.records import grade

    cfg = policy.cfg
    g = cfg.rl.group_size
    return [
        grade(q, "prompt", i, f"#### {q.answer if i == j % g else 0}", 3, "stop", Grading.from_config(cfg))
        for j, q in enumerate(questions)
        for i in range(g)
    ]


class Held:
    """Stands in for the run's Policy where fake_rollouts sample: it only carries the config."""

    def __init__(self, cfg):
        self.cfg = cfg

    def pause(self):
        pass


class LengthScorer:
    def score(self, pairs):
        return [len(solution) / 100 for _, solution in pairs]


def test_each_advantage_and_reward_stays_with_its_own_sample_through_the_step(tmp_path, monkeypatch):
    monkeypatch.setattr(grpo, "rollouts", fake_rollouts)
    cfg = make_cfg(*GRPO, "rl.questions_per_step=3", "rl.group_size=4", "rl.reward.verifier=0.5", run_dir=tmp_path)
    parts = grpo.check_rl(OmegaConf.merge(cfg.rl, {"reward": {"verifier": 0}}))
    splits = grpo.load_splits(cfg.data)
    batch = grpo.batch_sampler(cfg, parts, Held(cfg), splits, tmp_path, LengthScorer())(0, model=None)
    assert len(batch.records) == 12 and batch.stats["share_correct"] == 0.25
    for k, (record, advantage) in enumerate(zip(batch.records, batch.advantages, strict=True)):
        assert record["sample_idx"] == k % 4 and record["correct"] == (k % 4 == (k // 4) % 4)
        assert (advantage > 0) == record["correct"]
        assert record["reward"] == record["correct"] + 0.5 * len(record["completion"]) / 100
    stored = [json.loads(line) for line in (tmp_path / "00000" / "draw0" / "rewards.jsonl").open()]
    assert [r["reward"] for r in stored] == [r["reward"] for r in batch.records]


def test_each_step_and_draw_takes_its_own_questions(tmp_path, monkeypatch):
    monkeypatch.setattr(grpo, "rollouts", fake_rollouts)
    cfg = make_cfg(*GRPO, "rl.algorithm=dapo", "rl.questions_per_step=2", "rl.max_draws=3", run_dir=tmp_path)
    splits = grpo.load_splits(cfg.data)
    sample = grpo.batch_sampler(cfg, grpo.check_rl(cfg.rl), Held(cfg), splits, tmp_path)
    first, again = sample(1, None), sample(1, None)
    assert [r["id"] for r in first.records] == [r["id"] for r in again.records]  # a function of the step
    expected = grpo.questions_at(splits.train, cfg.seed, 1 * 3 * 2, 2)  # step 1, draw 0: positions 6, 7
    assert [r["id"] for r in first.records[::4]] == [q.id for q in expected]
    assert {r["id"] for r in sample(2, None).records}.isdisjoint({q.id for q in expected})


def run_with_fake_rollouts(tmp_path, run_dir, *overrides):
    """python -m mathlit task=grpo in a subprocess (each DDP rank re-runs it), rollouts from fake_rollouts: the
    same records for the same questions however the questions are split over ranks."""
    script = tmp_path / "fake_rollouts_run.py"
    script.write_text(
        "import mathlit.tasks.grpo as grpo\nfrom tests.test_grpo_task import fake_rollouts\n"
        "grpo.rollouts = fake_rollouts\nfrom mathlit.__main__ import main\nmain()\n"
    )
    command = [sys.executable, str(script), *GRPO, "trainer.accelerator=cpu", "rl.reward.format=0.5"]
    command += ["rl.questions_per_step=4", f"paths.data={DATA}", f"hydra.run.dir={run_dir}", *overrides]
    env = os.environ | {"PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return load_file(run_dir / "grpo" / "hf" / "model.safetensors")


@pytest.mark.slow  # two subprocess runs, one of them with 2 ranks
def test_two_ddp_ranks_each_grade_their_share_and_end_where_one_process_does(tmp_path):
    single = run_with_fake_rollouts(tmp_path, tmp_path / "single")
    start = tmp_path / "single" / "sft" / "hf"
    ddp = run_with_fake_rollouts(tmp_path, tmp_path / "ddp", "trainer=ddp", "trainer.devices=2", f"model.path={start}")
    for rank in (0, 1):  # each rank sampled and graded 2 of the 4 questions of each step
        rows = (tmp_path / "ddp" / "rollouts" / "00000" / f"rank{rank}" / "draw0" / "rewards.jsonl").read_text()
        assert len(rows.splitlines()) == 2 * 4
    initial = load_file(start / "model.safetensors")
    assert max((single[n] - initial[n]).abs().max() for n in single) > 1e-3  # the steps trained
    for name, weight in single.items():
        assert (weight - ddp[name]).abs().max() < 1e-4, name


def test_a_verifiers_score_joins_the_reward(tmp_path, tokenizer):
    # Any saved generator scores as a verifier (head=token: p(yes word) after the verifier prompt).
    folder = micro_folder(tokenizer, tmp_path / "model", seed=0)
    args = [*GRPO, f"model.path={folder}", f"rl.reward_model={folder}", "rl.reward.verifier=0.5", "rl.max_steps=1"]
    run_task(make_cfg(*args, run_dir=tmp_path / "run"))
    rows = [json.loads(line) for line in (tmp_path / "run" / "rollouts" / "00000" / "draw0" / "rewards.jsonl").open()]
    for r in rows:
        assert 0 < r["reward_terms"]["verifier"] < 1
        assert r["reward"] == pytest.approx(r["reward_terms"]["correct"] + 0.5 * r["reward_terms"]["verifier"])
    assert len({r["reward_terms"]["verifier"] for r in rows}) > 1  # a score per sample


def test_slurm_preemption_mid_step_checkpoints_after_the_step_requeues_and_resumes_exactly(tmp_path, monkeypatch):
    """Under srun, SIGUSR1 (the scheduler's warning) arrives while step 1 samples: the step's update finishes, a
    checkpoint is saved after it, the job asks to be requeued and stops before export; the requeued run ends
    bitwise where an uninterrupted run ends."""
    import signal

    import callbacks.requeue
    from tests.callbacks.test_requeue import SRUN

    args = [*GRPO, "rl.max_steps=3", "rl.reward.format=0.5"]
    run_task(make_cfg(*args, run_dir=tmp_path / "whole"))
    requeues = []
    monkeypatch.setattr(callbacks.requeue.subprocess, "run", lambda cmd, check: requeues.append(cmd))
    for key, value in SRUN.items():
        monkeypatch.setenv(key, value)
    real = grpo.rollouts

    def warned_at_step_1(policy, model, step, *rest):
        if step == 1 and not requeues:
            os.kill(os.getpid(), signal.SIGUSR1)
        return real(policy, model, step, *rest)

    monkeypatch.setattr(grpo, "rollouts", warned_at_step_1)
    with pytest.raises(SystemExit):
        run_task(make_cfg(*args, run_dir=tmp_path / "requeued"))
    assert requeues == [["scontrol", "requeue", "77"]]
    checkpoint = torch.load(tmp_path / "requeued" / "grpo" / "checkpoints" / "last.ckpt", weights_only=False)
    assert checkpoint["global_step"] == 2 and not (tmp_path / "requeued" / "grpo" / "hf").exists()
    run_task(make_cfg(*args, run_dir=tmp_path / "requeued"))
    model = "grpo/hf/model.safetensors"
    assert (tmp_path / "requeued" / model).read_bytes() == (tmp_path / "whole" / model).read_bytes()


def test_a_generative_verifier_writes_its_checks_to_score_the_reward(tmp_path, tokenizer, monkeypatch):
    from mathlit.modules.verifier import Scorer, write_verifier_spec

    checked, checks = [], Scorer.checks
    monkeypatch.setattr(Scorer, "checks", lambda self, pairs, *a: checked.append(len(pairs)) or checks(self, pairs, *a))

    folder = micro_folder(tokenizer, tmp_path / "model", seed=0)
    v = make_cfg("verifier.objective=generative").verifier
    write_verifier_spec(
        folder,
        head="token",
        objective="generative",
        token_score="last",
        prompt_template=v.generative_template,
        yes_word=v.yes_word,
        no_word=v.no_word,
        rationale="candidate",
        rationale_style="restate",
    )
    args = [*GRPO, f"model.path={folder}", f"rl.reward_model={folder}", "rl.reward.verifier=0.5", "rl.max_steps=1"]
    run_task(make_cfg(*args, "verifier.rationale_max_new_tokens=8", run_dir=tmp_path / "run"))
    assert checked and all(n > 0 for n in checked)  # the rollouts' solutions were checked in writing first
    rows = [json.loads(line) for line in (tmp_path / "run" / "rollouts" / "00000" / "draw0" / "rewards.jsonl").open()]
    for r in rows:
        assert 0 < r["reward_terms"]["verifier"] < 1
        assert r["reward"] == pytest.approx(r["reward_terms"]["correct"] + 0.5 * r["reward_terms"]["verifier"])


def test_vllm_rollouts_on_several_ranks_need_an_engine_per_gpu():
    ddp = ["task=grpo", "sampler=vllm", "trainer=ddp", "trainer.devices=2"]
    grpo.check_rollout_sampler(make_cfg(*ddp))  # each rank its own engine (tests/test_data_parallel_sampling.py)
    with pytest.raises(ConfigError, match=r"^sampler.tensor_parallel_size=2 with 2 ranks: .* set sampler.tensor_"):
        grpo.check_rollout_sampler(make_cfg(*ddp, "sampler.tensor_parallel_size=2"))
