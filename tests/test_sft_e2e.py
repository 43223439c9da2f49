"""End to end on a tiny model: train, export, reload; crash, resume, and end where an uninterrupted run ends."""

import json
import subprocess
import sys

import lightning as L
import pytest
import torch
from lightning.pytorch.callbacks import Callback
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM, AutoTokenizer

from mathlit.models.digest import folder_digest
from mathlit.modules.generator import GeneratorSFT
from mathlit.tasks import run_task
from mathlit.training import fit_stage, sft_parts
from tests.conftest import MICRO_MODEL, ROOT, make_cfg


def test_sft_task_writes_a_folder_that_reloads_with_the_trained_logits(tmp_path):
    cfg = make_cfg("debug=fast", *MICRO_MODEL, run_dir=tmp_path)
    accuracy = run_task(cfg)
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["greedy_accuracy"] == accuracy and metrics["problems"] == 8
    assert len((tmp_path / "test" / "greedy" / "samples.jsonl").read_text().splitlines()) == 8
    assert "train/loss" in (tmp_path / "logs" / "version_0" / "metrics.csv").read_text()

    reloaded = AutoModelForCausalLM.from_pretrained(tmp_path / "hf")
    tokenizer = AutoTokenizer.from_pretrained(tmp_path / "hf")
    trained = torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]
    module = GeneratorSFT(cfg.model, cfg.optim, tokenizer)
    module.configure_model()
    module.load_state_dict(trained)
    ids = tokenizer(["Question: Mia has 3 apples.\nAnswer:\n"], return_tensors="pt")
    with torch.no_grad():
        torch.testing.assert_close(reloaded(**ids).logits, module.model(**ids).logits)
    assert reloaded.generation_config.eos_token_id == tokenizer.eos_token_id


class Crash(Callback):
    def __init__(self, at_step: int):
        self.at_step = at_step

    def on_train_batch_end(self, trainer, *args):
        if trainer.global_step == self.at_step:
            raise RuntimeError("simulated crash")


def train(run_dir, tokenizer, every, *overrides, callbacks=()):
    # 24 examples, batch 8: 3 steps per epoch, 8 steps in all, checkpoints every `every` steps.
    cfg = make_cfg(
        "debug=fast",
        *MICRO_MODEL,
        "trainer.max_steps=8",
        "data.max_train_examples=24",
        "trainer.global_batch_size=8",
        "trainer.micro_batch_size=4",
        f"trainer.checkpoint_every_n_steps={every}",
        "trainer.val_every_n_steps=null",
        *overrides,
        run_dir=run_dir,
    )
    L.seed_everything(cfg.seed)
    return fit_stage(cfg, *sft_parts(cfg, tokenizer), run_dir, callbacks=list(callbacks))


@pytest.mark.parametrize(
    ("every", "crash_at", "overrides"),
    [(2, 5, ["data.packing=true"]), (3, 7, [])],  # packing changes the batches, not how a resume finds them
    ids=["mid-epoch-packed", "epoch-boundary"],
)
def test_interrupted_run_resumes_to_the_uninterrupted_weights(tmp_path, tokenizer, every, crash_at, overrides):
    whole = train(tmp_path / "whole", tokenizer, every, *overrides)
    with pytest.raises(RuntimeError, match="simulated crash"):
        train(tmp_path / "resumed", tokenizer, every, *overrides, callbacks=[Crash(crash_at)])
    assert not (tmp_path / "resumed" / "hf").exists()
    resumed = train(tmp_path / "resumed", tokenizer, every, *overrides)
    assert resumed.global_step == whole.global_step == 8
    logs = sorted((tmp_path / "resumed" / "logs").glob("version_*/metrics.csv"))
    assert len(logs) == 2 and "train/loss" in logs[0].read_text()  # the interrupted run's log is kept
    a, b = load_file(whole.hf_dir / "model.safetensors"), load_file(resumed.hf_dir / "model.safetensors")
    assert a.keys() == b.keys()
    for name in a:
        torch.testing.assert_close(a[name], b[name], rtol=0, atol=0, msg=name)


def test_bad_data_path_is_one_line_naming_the_key(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mathlit",
            "data=gsm8k",
            f"data.path={tmp_path}/missing.jsonl",
            f"hydra.run.dir={tmp_path}/run",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert result.returncode == 1
    assert (
        result.stderr.strip().splitlines()[-1]
        == f"mathlit: error: {tmp_path}/missing.jsonl: no such file (set by data.path)"
    )


def test_a_finished_run_extended_with_more_steps_trains_on_and_evaluates_the_new_weights(tmp_path):
    """`hydra.run.dir=<finished run> trainer.max_steps=<more>`: the run resumes from its last checkpoint, trains
    the extra steps, and its test evaluation is of the new weights (not refused for the old samples on disk)."""
    run_task(make_cfg("debug=fast", *MICRO_MODEL, "trainer.max_steps=4", run_dir=tmp_path))
    first = json.loads((tmp_path / "metrics.json").read_text())
    old_weights = (tmp_path / "hf" / "model.safetensors").read_bytes()
    run_task(make_cfg("debug=fast", *MICRO_MODEL, "trainer.max_steps=8", run_dir=tmp_path))
    extended = json.loads((tmp_path / "metrics.json").read_text())
    assert first["headline"]["steps"] == 4 and extended["headline"]["steps"] == 8
    assert (tmp_path / "hf" / "model.safetensors").read_bytes() != old_weights
    samples = [json.loads(line) for line in (tmp_path / "test" / "greedy" / "samples.jsonl").read_text().splitlines()]
    assert len(samples) == extended["problems"] == 8
    manifest = json.loads((tmp_path / "test" / "greedy" / "shards" / "manifest.json").read_text())
    assert manifest["source"] == folder_digest(tmp_path / "hf")  # sampled again, from the extended weights


def test_compiled_training_ends_at_the_eager_weights_and_leaves_the_model_eager(tmp_path, tokenizer):
    """trainer.compile=true changes how the forward runs, not what is learned or how the weights are named."""
    from torch._dynamo.utils import counters

    eager = train(tmp_path / "eager", tokenizer, 4, "trainer.max_steps=3")
    counters.clear()
    compiled = train(tmp_path / "compiled", tokenizer, 4, "trainer.max_steps=3", "trainer.compile=true")
    assert counters["stats"]["unique_graphs"] > 0  # the forward did go through torch.compile
    assert "forward" not in vars(compiled.model)  # sampling it in memory runs the eager forward
    want, got = (
        load_file(tmp_path / "eager" / "hf" / "model.safetensors"),
        load_file(tmp_path / "compiled" / "hf" / "model.safetensors"),
    )
    assert want.keys() == got.keys()
    for name in want:
        torch.testing.assert_close(got[name], want[name], rtol=1e-4, atol=1e-5)
    assert eager.global_step == compiled.global_step == 3


def test_gradient_checkpointing_gives_the_same_gradients(tokenizer):
    from mathlit.models.build import build_model

    grads = []
    for checkpointing in (False, True):
        torch.manual_seed(0)
        cfg = make_cfg(*MICRO_MODEL, f"model.gradient_checkpointing={checkpointing}")
        model = build_model(cfg.model, tokenizer)
        assert model.is_gradient_checkpointing == checkpointing and model.training
        ids = torch.tensor([tokenizer("Question: 3 + 4 = ?\nAnswer:\n3 + 4 = 7\n#### 7")["input_ids"]] * 2)
        model(input_ids=ids, labels=ids).loss.backward()
        grads.append({name: p.grad for name, p in model.named_parameters()})
    for name, grad in grads[0].items():
        torch.testing.assert_close(grads[1][name], grad, rtol=1e-5, atol=1e-7)
