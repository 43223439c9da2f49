"""LoRA: only adapters train, the loss falls, and hf/ is a plain folder with them merged; QLoRA needs CUDA."""

import math

import pytest
import torch
from omegaconf import OmegaConf
from transformers import AutoModelForCausalLM

from mathlit.data.batching import pad_batch
from mathlit.data.datamodule import MathDataModule
from mathlit.errors import ConfigError
from mathlit.models.build import build_model
from mathlit.models.lora import ADAPTER
from mathlit.modules.generator import response_loss_sum
from mathlit.modules.optim import configure_optimizer
from mathlit.training import fit_stage, sft_parts
from tests.conftest import MICRO_MODEL, make_cfg

LORA = ["model.lora.r=8", "model.lora.dropout=0"]


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


def test_quantization_needs_cuda_and_lora_needs_an_unsharded_strategy(tmp_path, tokenizer):
    with pytest.raises(ConfigError, match=r"^model.quantization=4bit needs a CUDA GPU"):
        build_model(make_cfg(*MICRO_MODEL, *LORA, "model.quantization=4bit").model, tokenizer)
    cfg = make_cfg("debug=fast", *MICRO_MODEL, *LORA, "trainer.strategy=fsdp2", run_dir=tmp_path)
    with pytest.raises(ConfigError, match="model.lora.r=8 with trainer.strategy=fsdp2 is not supported"):
        fit_stage(cfg, *sft_parts(cfg, tokenizer), tmp_path)
