"""Model presets: each composes with pretrained-weight settings and builds a tiny model of its family from a
local folder; bad folders and random-init presets given foreign weights fail in one line."""

import re

import pytest
import torch
from transformers import GPT2Config, LlamaConfig, MistralConfig, Phi3Config, Qwen2Config

from mathlit.errors import ConfigError
from mathlit.models.build import MARKER, build_model, check_model_choice, load_tokenizer
from tests.conftest import make_cfg

SMALL = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1, "num_attention_heads": 2}
FAMILIES = {
    "llama": lambda **ids: LlamaConfig(**SMALL, num_key_value_heads=1, **ids),
    "qwen2": lambda **ids: Qwen2Config(**SMALL, num_key_value_heads=1, **ids),
    "mistral": lambda **ids: MistralConfig(**SMALL, num_key_value_heads=1, **ids),
    "phi3": lambda **ids: Phi3Config(**SMALL, num_key_value_heads=1, **ids),
    "gpt2": lambda **ids: GPT2Config(n_embd=32, n_layer=1, n_head=2, n_positions=256, **ids),
}


@pytest.fixture(scope="module")
def folders(tmp_path_factory, tokenizer):
    """A tiny randomly initialised model of each family, saved as a plain HF folder (no mathlit.json)."""
    from transformers import AutoModelForCausalLM

    made = {}
    for family, config in FAMILIES.items():
        ids = {"bos_token_id": tokenizer.bos_token_id, "eos_token_id": tokenizer.eos_token_id}
        model = AutoModelForCausalLM.from_config(config(vocab_size=len(tokenizer), pad_token_id=0, **ids))
        folder = tmp_path_factory.mktemp(family)
        model.save_pretrained(folder)
        tokenizer.save_pretrained(folder)
        made[family] = folder
    return made


@pytest.mark.parametrize(
    ("preset", "family"),
    [
        ("hf", "phi3"),
        ("hf", "gpt2"),
        ("llama3_8b", "llama"),
        ("mistral_7b", "mistral"),
        ("qwen2_5_0_5b", "qwen2"),
        ("qwen2_5_1_5b", "qwen2"),
        ("qwen2_5_3b", "qwen2"),
        ("qwen2_5_7b", "qwen2"),
    ],
)
def test_preset_composes_for_pretrained_weights_and_builds_its_family(folders, preset, family):
    cfg = make_cfg(f"model={preset}", f"model.path={folders[family]}")
    assert cfg.model.name == preset and cfg.model.arch is None
    assert cfg.optim.lr == 2e-5 and cfg.trainer.global_batch_size == 128  # never scale=tiny_llama's 3e-3 / 16
    check_model_choice(cfg.model)
    tokenizer = load_tokenizer(cfg.model)
    model = build_model(cfg.model, tokenizer)
    assert model.config.model_type == family
    out = model(input_ids=torch.tensor([tokenizer("1+1=2")["input_ids"]]))
    assert out.logits.shape[-1] == len(tokenizer)


def test_a_random_init_preset_refuses_weights_mathlit_did_not_train(folders):
    with pytest.raises(ConfigError, match="use model=hf model.path="):
        check_model_choice(make_cfg(f"model.path={folders['qwen2']}").model)
    (folders["llama"] / MARKER).write_text('{"prompt_template": null}')  # a folder mathlit saved
    check_model_choice(make_cfg(f"model.path={folders['llama']}").model)


def test_bad_model_folders_name_the_folder_and_what_is_missing(tmp_path, folders, tokenizer):
    (tmp_path / "empty").mkdir()
    tokenizer.save_pretrained(tmp_path / "tokenizer_only")
    tokenizer.save_pretrained(tmp_path / "no_weights")
    (tmp_path / "no_weights" / "config.json").write_text((folders["llama"] / "config.json").read_text())
    for path, message in (
        ("OUT/hf", "OUT/hf: no such model folder (set by model.path)"),
        (tmp_path / "empty", "empty: no config.json in the model folder"),
        (tmp_path / "tokenizer_only", "tokenizer_only: no config.json in the model folder"),
        (tmp_path / "no_weights", "no_weights: no weights (*.safetensors or pytorch_model*.bin)"),
    ):
        with pytest.raises(ConfigError, match=re.escape(message)):
            load_tokenizer(make_cfg("model=hf", f"model.path={path}").model)
    with pytest.raises(ConfigError, match="needs model.path"):
        load_tokenizer(make_cfg("model=hf").model)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU-only refusal")
def test_a_7b_scale_on_cpu_fails_in_one_line():
    from mathlit.strategies import check_strategy

    with pytest.raises(ConfigError, match="trainer.strategy=fsdp .* needs CUDA GPUs"):
        check_strategy(make_cfg("model=llama2_7b"))


def test_examples_longer_than_the_models_context_are_dropped_and_counted(tmp_path, tokenizer):
    """GPT-2's learned positions end at n_positions: a longer example would raise IndexError mid-training."""
    from transformers import AutoModelForCausalLM

    from mathlit.data.batching import pad_batch
    from mathlit.models.build import context_length
    from mathlit.training import datamodule

    ids = {"bos_token_id": tokenizer.bos_token_id, "eos_token_id": tokenizer.eos_token_id, "pad_token_id": 0}
    config = GPT2Config(n_embd=32, n_layer=1, n_head=2, n_positions=96, vocab_size=len(tokenizer), **ids)
    AutoModelForCausalLM.from_config(config).save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    cfg = make_cfg("model=hf", f"model.path={tmp_path}", "data.arith.num_train=200", "data.val_examples=20")
    assert context_length(cfg.model) == 96 and cfg.data.max_length == 256
    data = datamodule(cfg, tokenizer)
    data.setup("fit")
    dropped = data.splits.report["train_too_long"]
    assert 0 < dropped < 180 and len(data.train_set) == 180 - dropped
    assert max(len(e["input_ids"]) for e in data.train_set) <= 96
    model = build_model(cfg.model, tokenizer)
    batch = pad_batch(sorted(data.train_set, key=lambda e: -len(e["input_ids"]))[:4], 0)
    assert torch.isfinite(model(input_ids=batch["input_ids"], labels=batch["labels"]).loss)
    assert context_length(make_cfg().model) == 512  # tiny_llama's arch
