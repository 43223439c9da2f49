"""task=synth end to end on a tiny model: `python -m mathlit task=synth`, the local backends, and composition."""

import json

from omegaconf import OmegaConf

from mathlit.datagen.synth import SynthGenerator, generator_policy
from mathlit.models.digest import folder_digest
from mathlit.sampling.policy import Policy
from mathlit.tasks import run_task
from tests.conftest import MICRO_MODEL, make_cfg

TINY = ["synth.seeds=3", "synth.per_seed=2", "synth.answers=2", "synth.max_new_tokens=24", "sampler.max_new_tokens=24"]
# Short prompts: the paper's are ~300 tokens each, slow to prefill on a loaded CPU and no better for random weights.
TINY += [f"synth.prompts.{call}='{call}: {{question}}'" for call in ("create", "verify", "answer")]


def check_outputs(run_dir, seeds: int, per_seed: int) -> dict:
    report = json.loads((run_dir / "synth_report.json").read_text())
    funnel = [count for _, count in report["funnel"]]
    assert funnel[0] == seeds * per_seed and funnel == sorted(funnel, reverse=True)
    assert funnel[0] - funnel[-1] == sum(report["rejected"].values())
    rows = (run_dir / "synthetic.jsonl").read_text().splitlines()
    rejected = (run_dir / "rejected.jsonl").read_text().splitlines()
    assert len(rows) == report["rows"] and len(rejected) == sum(report["rejected"].values())
    assert (run_dir / "funnel.png").exists() and (run_dir / "create" / "samples.jsonl").exists()
    return report


def test_task_synth_runs_end_to_end_on_cpu(tmp_path, capsys):
    """python -m mathlit task=synth model=tiny_llama data=arith debug=fast ... (in process: the same config)"""
    run_task(
        make_cfg("task=synth", "model=tiny_llama", "data=arith", "debug=fast", *MICRO_MODEL, *TINY, run_dir=tmp_path)
    )
    assert "new questions from 3 seeds" in capsys.readouterr().out
    report = check_outputs(tmp_path, 3, 2)
    # random weights write no field headers: the verify replies are unparseable
    assert report["generator"]["model"] == "tiny_llama (in memory, random init, seed 42)"
    assert report["rejected"]["unparseable"] == 6
    assert report["decontamination"]["test_questions"] > 6000  # GSM8K test, MATH test and arith's own
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["rows"] == report["rows"]


def test_task_synth_composes_with_a_real_model_and_names_its_weights(tmp_path):
    folder = tmp_path / "llama"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    (folder / "model.safetensors").write_bytes(b"weights")
    cfg = make_cfg("task=synth", "model=llama2_7b", f"model.path={folder}")
    OmegaConf.to_container(cfg, resolve=True, throw_on_missing=True)
    policy = generator_policy(cfg, tokenizer=None)  # nothing starts before the first generate
    assert policy.describe() == {"sampler": "vllm", "model": str(folder), "weights": folder_digest(folder)}
    (folder / "model.safetensors").write_bytes(b"other weights")
    assert generator_policy(cfg, tokenizer=None).digest != policy.digest


def test_arith_toy_prompts_ask_what_the_toy_teacher_was_trained_on():
    """synth_prompts=arith_toy (bench/synth_toy.py's teacher): create is arith's prompt with the instruction the
    teacher's create rows carry, and answer falls back to data.prompt_template (the teacher's solving prompt)."""
    cfg = make_cfg("task=synth", "data=arith", "synth_prompts=arith_toy")
    generator = SynthGenerator(cfg, tokenizer=None, policy=Policy(cfg, None, sampler=object(), digest="none"))
    question = "Mia has 3 eggs. How many eggs does Mia have now?"
    teacher_row = cfg.data.prompt_template.format(question=f"{question} Write a new question like this one.")
    assert generator.prompts["create"].format(question=question) == teacher_row
    assert generator.prompts["answer"] == cfg.data.prompt_template
