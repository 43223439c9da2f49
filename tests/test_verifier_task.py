"""task=verifier, task=multitask and task=eval eval.rerank end to end on a micro model (CPU, seconds)."""

import csv
import json

import pytest
import torch
from safetensors.torch import load_file

from mathlit.answers.calculator import calculations_hold
from mathlit.errors import ConfigError
from mathlit.tasks import run_task
from tests.conftest import MICRO_MODEL, make_cfg

SMALL = [
    "debug=fast",
    *MICRO_MODEL,
    "verifier.samples_per_question=4",
    "verifier.max_questions=16",
    "verifier.max_new_tokens=32",
    "verifier.max_steps=4",
    "eval.n=4",
]
METHODS = ("maj", "best_of", "weighted", "cluster", "pass")


def assert_rerank_summary(summary: dict, problems: int, n: int) -> None:
    assert summary["problems"] == problems and summary["n"] == n
    for k in (1, 2, 4):
        assert all(0 <= summary[f"{m}@{k}"] <= summary[f"pass@{k}"] + 1e-9 for m in METHODS)
    assert summary["best_of@1"] == summary["maj@1"] == summary["cluster@1"] == summary["pass@1"]


def counting_samplers(monkeypatch) -> list:
    """Every sampler backend built from here on (a vLLM engine start each, with sampler=vllm)."""
    import mathlit.sampling.policy

    built, make = [], mathlit.sampling.policy.make_sampler
    monkeypatch.setattr("mathlit.sampling.policy.make_sampler", lambda *a, **kw: built.append(kw) or make(*a, **kw))
    return built


def test_pairwise_verifier_trains_and_reranks(tmp_path, monkeypatch):
    built = counting_samplers(monkeypatch)
    run_task(make_cfg("task=verifier", "verifier=pairwise", *SMALL, run_dir=tmp_path))
    # One sampler on the generator's weights: training and validation candidates, greedy and sampled test solutions.
    assert [kw["model_dir"] for kw in built] == [tmp_path / "generator" / "hf"]
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert_rerank_summary(metrics["rerank"], problems=8, n=4)
    assert metrics["verifier_training"]["train"] >= 16  # a pair per question at least (the reference is correct)
    assert 0 <= metrics["greedy_accuracy"] == metrics["rerank"]["greedy"] <= 1 and metrics["problems"] == 8
    assert metrics["sampled"]["n"] == 4
    for part in ("candidates/train", "candidates/val", "test/greedy", "test/sampled"):
        assert (tmp_path / part / "samples.jsonl").exists(), part
    spec = json.loads((tmp_path / "verifier" / "hf" / "verifier.json").read_text())
    assert spec["head"] == "token"
    scored = (tmp_path / "test" / "scored.jsonl").read_text().splitlines()
    assert len(scored) == 8 * 4 and all(0 <= json.loads(line)["score"] <= 1 for line in scored)
    assert (tmp_path / "test" / "rerank.png").stat().st_size > 10_000
    [logged] = (tmp_path / "verifier" / "logs").rglob("metrics.csv")
    assert {"val/auroc", "val/accuracy", "val/best_of_n"} <= set(logged.read_text().splitlines()[0].split(","))

    # The trained verifier re-ranks the samples of task=eval.
    out = tmp_path / "eval"
    generator = tmp_path / "generator" / "hf"
    args = ["task=eval", "debug=fast", f"model.path={generator}", "eval.n=4", "eval.max_examples=6"]
    run_task(make_cfg(*args, f"eval.rerank={tmp_path}/verifier/hf", run_dir=out))
    assert_rerank_summary(json.loads((out / "metrics.json").read_text())["rerank"], problems=6, n=4)
    with pytest.raises(ConfigError, match="eval.rerank"):
        run_task(make_cfg(*args, f"eval.rerank={tmp_path}/nowhere", run_dir=tmp_path / "bad"))
    # Beside a trained verifier, the generator's own likelihood re-ranks the same samples; alone it is eval.rerank.
    baseline = metrics["rerank_likelihood"]
    assert_rerank_summary(baseline, problems=8, n=4) and baseline["verifier"] == "likelihood"
    assert baseline["maj@4"] == metrics["rerank"]["maj@4"] and baseline["pass@4"] == metrics["rerank"]["pass@4"]
    lik = [json.loads(line)["score"] for line in (tmp_path / "test" / "likelihood" / "scored.jsonl").open()]
    assert len(lik) == 32 and all(0 < s <= 1 for s in lik) and len(set(lik)) > 1
    run_task(make_cfg(*args, "eval.rerank=likelihood", run_dir=tmp_path / "lik"))
    alone = json.loads((tmp_path / "lik" / "metrics.json").read_text())["rerank"]
    assert_rerank_summary(alone, problems=6, n=4) and alone["verifier"] == "likelihood"
    assert "rerank_calculations" not in json.loads((tmp_path / "lik" / "metrics.json").read_text())
    # And the calculator's check, a verifier without training: a sample scores 1 when its calculations hold.
    checked = metrics["rerank_calculations"]
    assert_rerank_summary(checked, problems=8, n=4) and checked["verifier"] == "calculations"
    assert checked["maj@4"] == metrics["rerank"]["maj@4"]
    samples = {(r["id"], r["sample_idx"]): r for r in map(json.loads, (tmp_path / "test/sampled/samples.jsonl").open())}
    for row in map(json.loads, (tmp_path / "test" / "calculations" / "scored.jsonl").open()):
        assert (row["score"] == 1.0) == calculations_hold(samples[(row["id"], row["sample_idx"])]["completion"])


@pytest.mark.parametrize(("objective", "token_score"), [("process", "min"), ("token_level", "mean")])
def test_dense_verifier_trains_end_to_end_and_keeps_its_best_validation(tmp_path, objective, token_score):
    steps = ["verifier.max_steps=6", "trainer.val_every_n_steps=2"]
    dense = [f"verifier.objective={objective}", f"verifier.token_score={token_score}"]
    run_task(make_cfg("task=verifier", *SMALL, *steps, *dense, run_dir=tmp_path))
    spec = json.loads((tmp_path / "verifier" / "hf" / "verifier.json").read_text())
    assert spec["objective"] == objective and spec["token_score"] == token_score
    [log] = (tmp_path / "verifier" / "logs").rglob("metrics.csv")
    assert len([r for r in csv.DictReader(log.open()) if r.get("val/auroc")]) == 3  # every 2 of 6 steps
    best = torch.load(tmp_path / "verifier" / "checkpoints" / "best.ckpt", weights_only=False)
    exported = load_file(tmp_path / "verifier" / "hf" / "model.safetensors")
    for name, tensor in exported.items():  # the best validation's weights were exported, not the last
        assert torch.equal(best["state_dict"][f"model.{name}"], tensor), name
    if best["global_step"] != 6:
        last = torch.load(tmp_path / "verifier" / "checkpoints" / "last.ckpt", weights_only=False)["state_dict"]
        assert any(not torch.equal(last[f"model.{name}"], tensor) for name, tensor in exported.items())
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert_rerank_summary(metrics["rerank"], problems=8, n=4)
    assert_rerank_summary(metrics["rerank_likelihood"], problems=8, n=4)


def test_multitask_runs_its_stages_and_reports_against_sft(tmp_path, monkeypatch):
    built = counting_samplers(monkeypatch)
    objective = run_task(make_cfg("task=multitask", *SMALL, run_dir=tmp_path))
    # The SFT model's sampler serves its candidates and its test solutions; the final model and the control their own.
    assert [kw["model_dir"].parent.name for kw in built] == ["stage1_generator", "stage3_generator", "sft_control"]
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert [s.split("/")[-2] for s in metrics["stages"]] == ["stage1_generator", "stage2_verifier", "stage3_generator"]
    for name in ("sft", "multitask"):
        assert_rerank_summary(metrics[name]["rerank"], problems=8, n=4)
    assert objective == metrics["multitask"]["rerank"]["cluster@4"]
    # SFT only, for as many steps as the two generator stages together (debug=fast: 4 each).
    control = metrics["sft_control"]
    assert control["problems"] == 8 and control["sampled"]["n"] == 4 and "rerank" not in control
    assert torch.load(tmp_path / "sft_control" / "checkpoints" / "last.ckpt", weights_only=False)["global_step"] == 8
    final = json.loads((tmp_path / "stage3_generator" / "hf" / "verifier.json").read_text())
    assert final["head"] == "token"  # the final generator is its own verifier


def test_multitask_with_a_dense_objective_scores_its_models_as_it_trained_them(tmp_path):
    from mathlit.modules.verifier import Scorer

    dense = ["verifier.objective=token_level", "verifier.token_score=mean", "multitask.sft_control=false"]
    run_task(make_cfg("task=multitask", *SMALL, *dense, run_dir=tmp_path))
    final = tmp_path / "stage3_generator" / "hf"
    spec = json.loads((final / "verifier.json").read_text())
    assert spec["objective"] == "token_level" and spec["token_score"] == "mean"
    scored = [json.loads(line) for line in (tmp_path / "test" / "multitask" / "scored.jsonl").open()]
    samples = {
        (r["id"], r["sample_idx"]): r
        for r in map(json.loads, (tmp_path / "test" / "multitask" / "sampled" / "samples.jsonl").open())
    }
    pairs = [
        (samples[(r["id"], r["sample_idx"])]["question"], samples[(r["id"], r["sample_idx"])]["completion"])
        for r in scored[:6]
    ]
    # The mean over the solution's tokens, not the last token's score alone.
    assert Scorer(final).score(pairs) == pytest.approx([r["score"] for r in scored[:6]], abs=1e-5)
    last = Scorer(final)
    last.module.cfg.token_score = "last"
    assert last.score(pairs) != pytest.approx([r["score"] for r in scored[:6]], abs=1e-5)


def test_multitask_rejects_stage_lists_it_cannot_run(tmp_path):
    with pytest.raises(ConfigError, match="multitask.stages"):
        run_task(make_cfg("task=multitask", *SMALL, "multitask.stages=[{kind: verifier}]", run_dir=tmp_path))
    with pytest.raises(ConfigError, match="verifier.head=token"):
        run_task(make_cfg("task=multitask", *SMALL, "verifier.head=scalar", run_dir=tmp_path))


def test_the_users_command_composes_for_a_real_model():
    cfg = make_cfg("task=multitask", "model=llama2_7b", "model.path=/models/Llama-2-7b-hf")
    assert [s.kind for s in cfg.multitask.stages] == ["generator", "verifier", "generator"]
    assert cfg.verifier.head == "token" and cfg.verifier.lm_weight > 0 and cfg.trainer.precision == "bf16-mixed"


def test_verifier_stage_learns_a_separable_signal_through_the_whole_pipeline(tmp_path):
    """Through DataModule, step-planned batches, Lightning and validation: a learnable label is learnt."""
    import csv
    import random

    import lightning as L

    from mathlit.data.formats import Example
    from mathlit.data.splits import Splits
    from mathlit.models.build import load_tokenizer
    from mathlit.training import fit_stage, verifier_parts

    steps = ["trainer.max_steps=60", "trainer.val_every_n_steps=30", "trainer.global_batch_size=16"]
    cfg = make_cfg("debug=fast", *MICRO_MODEL, *steps, "trainer.micro_batch_size=16", run_dir=tmp_path)
    rng = random.Random(0)
    pairs = [(rng.randint(1, 9), rng.randint(1, 9)) for _ in range(200)]
    questions = [
        Example(str(i), f"What is {a}+{b}?", f"{a}+{b}={a + b}\n#### {a + b}", str(a + b), "gsm8k")
        for i, (a, b) in enumerate(pairs)
    ]
    records = []
    for q, (a, b) in zip(questions, pairs, strict=True):  # the incorrect ones carry a marker word
        records.append({"question": q.question, "completion": f"{a}+{b}={a + b} #### {a + b}", "correct": True})
        records.append({"question": q.question, "completion": f"{a}+{b}={a + b} #### {a + b} wrong", "correct": False})
    L.seed_everything(0)
    splits = Splits(questions[:150], questions[150:], [], {})
    module, data = verifier_parts(cfg, load_tokenizer(cfg.model), records[:300], records[300:], splits)
    fit_stage(cfg, module, data, tmp_path)
    [log] = (tmp_path / "logs").rglob("metrics.csv")
    rows = list(csv.DictReader(open(log)))
    losses = [float(r["train/verifier_loss"]) for r in rows if r["train/verifier_loss"]]
    assert losses[0] > 0.6 and max(losses[-5:]) < 0.1
    assert [float(r["val/auroc"]) for r in rows if r.get("val/auroc")][-1] == 1.0


def test_process_labels_by_rollouts_sample_each_wrong_prefix_and_train(tmp_path):
    rollouts = ["verifier.objective=process", "verifier.process_labels=rollouts", "verifier.rollouts=2"]
    run_task(make_cfg("task=verifier", *SMALL, *rollouts, run_dir=tmp_path))
    train = [json.loads(line) for line in (tmp_path / "candidates" / "train" / "samples.jsonl").open()]
    wrong = {(r["question"], r["completion"]) for r in train if not r["correct"]}
    prefixes = sum(len([line for line in c.strip().split("\n") if line.strip()]) - 1 for _, c in wrong)
    rolled = [json.loads(line) for line in (tmp_path / "candidates" / "rollouts" / "samples.jsonl").open()]
    # 2 completions from each proper prefix of each wrong solution trained on (a balanced subset of all wrong ones)
    assert 0 < len({r["id"] for r in rolled}) <= prefixes and len(rolled) == 2 * len({r["id"] for r in rolled})
    assert all(r["prompt"].startswith("Question: ") and r["prompt"].endswith("\n") for r in rolled)
    assert_rerank_summary(json.loads((tmp_path / "metrics.json").read_text())["rerank"], problems=8, n=4)


def test_generative_verifier_trains_writes_its_checks_and_reranks(tmp_path):
    checks = ["verifier.objective=generative", "verifier.rationale_style=recompute"]
    checks.append("verifier.rationale_max_new_tokens=24")
    run_task(make_cfg("task=verifier", *SMALL, *checks, run_dir=tmp_path))
    folder = tmp_path / "verifier" / "hf"
    spec = json.loads((folder / "verifier.json").read_text())
    assert spec["objective"] == "generative" and spec["rationale"] == "candidate"
    assert spec["rationale_style"] == "recompute"
    assert "{rationale}" in spec["prompt_template"]
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert_rerank_summary(metrics["rerank"], problems=8, n=4)
    samples = [json.loads(line) for line in (tmp_path / "test/sampled/samples.jsonl").open()]
    written = [json.loads(line) for line in (tmp_path / "test/checks/samples.jsonl").open()]
    assert len(written) == len({(s["question"], s["completion"]) for s in samples})  # one check per distinct sample
    assert all(json.loads(line)["score"] > 0 for line in (tmp_path / "test" / "scored.jsonl").open())

    # task=eval re-ranks with it, writing verifier.rationales sampled checks of each distinct solution.
    out = tmp_path / "eval"
    args = ["task=eval", "debug=fast", f"model.path={tmp_path}/generator/hf", "eval.n=4", "eval.max_examples=6"]
    sampled = ["verifier.rationales=2", "verifier.rationale_temperature=1.0", "verifier.rationale_max_new_tokens=24"]
    run_task(make_cfg(*args, f"eval.rerank={folder}", *sampled, run_dir=out))
    assert_rerank_summary(json.loads((out / "metrics.json").read_text())["rerank"], problems=6, n=4)
    written = [json.loads(line) for line in (out / "checks" / "samples.jsonl").open()]
    assert {r["sample_idx"] for r in written} == {0, 1}


def test_multitask_with_a_generative_verifier_stage(tmp_path):
    run_task(
        make_cfg(
            "task=multitask",
            *SMALL,
            "verifier.objective=generative",
            "multitask.sft_control=false",
            "verifier.rationale_max_new_tokens=16",
            run_dir=tmp_path,
        )
    )
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    for name in ("sft", "multitask"):
        assert_rerank_summary(metrics[name]["rerank"], problems=8, n=4)
        assert (tmp_path / "test" / name / "checks" / "samples.jsonl").exists()
