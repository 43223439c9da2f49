"""LoRA and QLoRA: only adapters train, the loss falls, and hf/ is a plain folder with them merged (QLoRA for real:
bitsandbytes' 4-bit and 8-bit layers on the CPU)."""

import math

import pytest
import torch
from omegaconf import OmegaConf
from transformers import AutoModelForCausalLM

from mathlit.data.batching import pad_batch
from mathlit.data.datamodule import MathDataModule
from mathlit.errors import ConfigError
from mathlit.models.build import MARKER, build_model
from mathlit.models.lora import ADAPTER
from mathlit.modules.generator import response_loss_sum
from mathlit.modules.optim import configure_optimizer
from mathlit.training import fit_stage, sft_parts
from tests.conftest import MICRO_MODEL, make_cfg

LORA = ["model.lora.r=8", "model.lora.dropout=0"]
WIDER = ["model.arch.hidden_size=64", "model.arch.intermediate_size=128"]


def test_only_the_adapters_reach_the_optimizer(tokenizer):
    cfg = make_cfg(*MICRO_MODEL, *LORA, "model.lora.target_modules=[q_proj,v_proj]")
    model = build_model(cfg.model, tokenizer)
    optimizer = configure_optimizer(model, cfg.optim, total_steps=10)["optimizer"]
    in_optimizer = {id(p) for group in optimizer.param_groups for p in group["params"]}
    adapters = {id(p) for n, p in model.named_parameters() if ".lora_" in n}
    assert in_optimizer == adapters and len(adapters) == 2 * 2 * 2  # 2 layers x (q, v) x (A, B)


def test_lora_learns_a_fixed_batch(tokenizer):
    cfg = make_cfg(*MICRO_MODEL, *LORA, "data.arith.num_train=64", "data.val_examples=0")
    torch.manual_seed(0)
    model = build_model(cfg.model, tokenizer)
    # A random init's embeddings (std 0.02) cap the logits near uniform whatever the frozen-embedding LoRA
    # layers do; a trained model's are larger. Scaled like one, the base can be learned from.
    model.get_input_embeddings().weight.data *= 10
    data = MathDataModule(cfg.data, tokenizer, global_batch_size=8, micro_batch_size=8, seed=0)
    data.setup()
    batch = pad_batch(data.train_set[:8], data.pad_id)
    optimizer = configure_optimizer(model, OmegaConf.merge(cfg.optim, {"lr": 3e-2, "warmup_ratio": 0}), 20)
    losses = []
    for _ in range(20):
        loss_sum, tokens = response_loss_sum(model, batch)
        (loss_sum / tokens).backward()
        optimizer["optimizer"].step()
        optimizer["optimizer"].zero_grad()
        losses.append(float(loss_sum / tokens))
    print(f"LoRA loss on a fixed batch: {losses[0]:.3f} -> {losses[-1]:.3f} (uniform: {math.log(len(tokenizer)):.3f})")
    assert losses[-1] < min(losses[0], math.log(len(tokenizer))) - 0.5


def test_a_lora_stage_exports_a_merged_folder_that_loads_and_samples(tmp_path, tokenizer):
    cfg = make_cfg("debug=fast", *MICRO_MODEL, *LORA, "optim.lr=3e-2", "trainer.max_steps=2", run_dir=tmp_path)
    module, data = sft_parts(cfg, tokenizer)
    fit_stage(cfg, module, data, tmp_path)
    assert (tmp_path / "adapter" / "adapter_config.json").exists()
    reloaded = AutoModelForCausalLM.from_pretrained(tmp_path / "hf")  # a plain folder: no peft involved
    assert not any("lora" in n for n, _ in reloaded.named_parameters())
    ids = tokenizer(["Question: Mia has 3 apples.\nAnswer:\n"], return_tensors="pt")
    with torch.no_grad():
        trained = module.model.eval()(**ids).logits
        assert module.model.base_model.model.model.layers[0].self_attn.q_proj.lora_B[ADAPTER].weight.abs().max() > 0
        torch.testing.assert_close(reloaded(**ids).logits, trained, rtol=1e-5, atol=1e-5)
    out = reloaded.generate(**ids, max_new_tokens=8, do_sample=False)
    assert out.shape[1] > ids["input_ids"].shape[1]


@pytest.mark.parametrize(("quantization", "layer"), [("4bit", "Linear4bit"), ("8bit", "Linear8bitLt")])
def test_qlora_trains_adapters_on_a_quantized_base_and_exports_a_plain_folder(tmp_path, tokenizer, quantization, layer):
    """A saved tiny model loaded through bitsandbytes: its linear layers are quantized, a QLoRA stage's loss
    falls, and hf/ is a plain float folder (dequantized base + merged adapters) that reproduces the logits."""
    # bitsandbytes' CPU 4-bit inference kernel needs widths of 64 and up (32 fails in its reshape).
    base = build_model(make_cfg(*MICRO_MODEL, *WIDER).model, tokenizer)
    base.get_input_embeddings().weight.data *= 10  # as in test_lora_learns_a_fixed_batch: a learnable base
    base.save_pretrained(tmp_path / "base")
    tokenizer.save_pretrained(tmp_path / "base")
    (tmp_path / "base" / MARKER).write_text('{"prompt_template": null}')  # a folder mathlit wrote
    settings = [f"model.path={tmp_path / 'base'}", *LORA, f"model.quantization={quantization}", "optim.lr=3e-2"]
    cfg = make_cfg("debug=fast", *settings, "trainer.max_steps=12", "optim.warmup_ratio=0", run_dir=tmp_path / "run")
    module, data = sft_parts(cfg, tokenizer)
    fit_stage(cfg, module, data, tmp_path / "run")
    up = module.model.base_model.model.model.layers[0].mlp.up_proj
    assert type(up.base_layer).__name__ == layer
    assert all(".lora_" in n for n, p in module.model.named_parameters() if p.requires_grad)
    losses = [float(r["train/loss"]) for r in csv_rows(tmp_path / "run") if r["train/loss"]]
    assert losses[-1] < losses[0] - 0.2, losses
    reloaded = AutoModelForCausalLM.from_pretrained(tmp_path / "run" / "hf")
    assert not any("lora" in n for n, _ in reloaded.named_parameters())
    ids = tokenizer(["Question: Mia has 3 apples.\nAnswer:\n"], return_tensors="pt")
    with torch.no_grad():  # 8-bit matmuls round their inputs to fp16: equal to ~1e-2, not 1e-5
        torch.testing.assert_close(reloaded(**ids).logits, module.model.eval()(**ids).logits, rtol=0.05, atol=0.05)


def csv_rows(run_dir):
    import csv

    with open(next(run_dir.glob("logs/version_*/metrics.csv"))) as f:
        return list(csv.DictReader(f))


def test_quantization_needs_weights_and_adapters_and_lora_needs_an_unsharded_strategy(tmp_path, tokenizer):
    with pytest.raises(ConfigError, match=r"^model.quantization=4bit quantizes weights loaded from model.path"):
        build_model(make_cfg(*MICRO_MODEL, *LORA, "model.quantization=4bit").model, tokenizer)
    cfg = make_cfg("debug=fast", *MICRO_MODEL, *LORA, "trainer.strategy=fsdp2", run_dir=tmp_path)
    with pytest.raises(ConfigError, match="model.lora.r=8 with trainer.strategy=fsdp2 is not supported"):
        fit_stage(cfg, *sft_parts(cfg, tokenizer), tmp_path)


def test_qlora_loads_each_rank_onto_its_own_gpu_under_srun(monkeypatch):
    """Under srun Lightning's SLURMEnvironment sets SLURM_LOCALID, not LOCAL_RANK (which only its own launcher
    sets), and makes the rank's GPU the current device before configure_model builds the model."""
    from mathlit.models.lora import quantization_config

    monkeypatch.delenv("LOCAL_RANK", raising=False)
    for key, value in {"SLURM_NTASKS": "8", "SLURM_PROCID": "3", "SLURM_LOCALID": "3", "SLURM_JOB_ID": "1"}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *_, **__: True)
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 3)  # set by the strategy from SLURM_LOCALID
    cfg = make_cfg("model=hf", "model.path=/weights", *LORA, "model.quantization=4bit").model
    assert quantization_config(cfg)["device_map"] == {"": 3}
