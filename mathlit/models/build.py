"""Tokenizers and causal LMs from a `model` config: random LLaMA from an architecture, or a local HF folder."""

import importlib.util
import json
import logging
from dataclasses import asdict
from pathlib import Path

import torch
from omegaconf import OmegaConf
from torch import nn
from transformers import (
    AutoConfig,
    AutoModelForCausalLM,
    AutoTokenizer,
    LlamaConfig,
    LlamaForCausalLM,
    PreTrainedModel,
    PreTrainedTokenizerBase,
)

from mathlit.config import LlamaArch, ModelConfig
from mathlit.errors import ConfigError
from mathlit.io import atomic_folder, respect_umask, write_json
from mathlit.models.integrity import check_safetensors
from mathlit.models.lora import add_lora, quantization_config

log = logging.getLogger(__name__)

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def attention_backend(requested: str) -> str:
    """flash_attention_2 when asked for and usable (package present, CUDA), else what was asked for."""
    if requested == "flash_attention_2" and (
        importlib.util.find_spec("flash_attn") is None or not torch.cuda.is_available()
    ):
        log.warning("model.attn_implementation=flash_attention_2 needs the flash-attn package and a GPU; using sdpa")
        return "sdpa"
    return str(requested)


MARKER = "mathlit.json"  # written into every folder mathlit saves: what it was trained with
TOKENIZER_FILES = ("tokenizer.json", "tokenizer.model", "vocab.json", "tiktoken.model")


def _check_folder(source: str, key: str, *, model_folder: bool) -> None:
    """A local folder with what loading needs, else one line naming it and what is missing. Only local
    folders are read (never a hub lookup): download hub models first (`hf download ID --local-dir DIR`)."""
    folder = Path(source)
    if not folder.is_dir():
        raise ConfigError(f"{source}: no such model folder (set by {key})")
    if model_folder and not (folder / "config.json").is_file():
        raise ConfigError(f"{source}: no config.json in the model folder (set by {key})")
    if not any((folder / name).is_file() for name in TOKENIZER_FILES):
        raise ConfigError(f"{source}: no tokenizer in the model folder (set by {key}; needs one of {TOKENIZER_FILES})")
    if model_folder and not any(folder.glob("*.safetensors")) and not any(folder.glob("pytorch_model*.bin")):
        raise ConfigError(f"{source}: no weights (*.safetensors or pytorch_model*.bin) in the model folder ({key})")
    if model_folder:
        check_safetensors(folder, key)


def check_model_choice(cfg: ModelConfig) -> None:
    """A random-init preset (model.arch set, e.g. tiny_llama) given weights to load that mathlit did not write
    would train them with that preset's scale (tiny_llama: lr 3e-3) and record its arch: refused."""
    if cfg.path is not None and cfg.arch is not None and not (Path(cfg.path) / MARKER).is_file():
        raise ConfigError(
            f"model.path={cfg.path} is not a folder mathlit trained, and model={cfg.name} is a random-init preset "
            f"(its scale's settings are for that model): use model=hf model.path={cfg.path}, or a named family "
            "(model=qwen2_5_0_5b, llama3_8b, mistral_7b, ...)"
        )


def context_length(cfg: ModelConfig) -> int | None:
    """The model's context in tokens: `max_position_embeddings` (GPT-2's n_positions and the like through
    transformers' attribute maps) of the folder's config.json or of model.arch; None when it states none."""
    if cfg.path is None:
        return cfg.arch.max_position_embeddings if cfg.arch is not None else None
    config_file = Path(cfg.path) / "config.json"
    if not config_file.is_file():
        return None
    config = AutoConfig.from_pretrained(cfg.path, trust_remote_code=cfg.trust_remote_code)
    for name in ("max_position_embeddings", "n_positions", "max_sequence_length", "seq_length"):
        if isinstance(value := getattr(config, name, None), int) and value > 0:
            return value
    return None


def load_tokenizer(cfg: ModelConfig) -> PreTrainedTokenizerBase:
    source = cfg.path or cfg.tokenizer  # a model folder carries its own tokenizer
    if source is None:
        raise ConfigError(f"model={cfg.name} needs model.path (a local model folder)")
    _check_folder(source, "model.path" if cfg.path else "model.tokenizer", model_folder=cfg.path is not None)
    tokenizer = AutoTokenizer.from_pretrained(source, trust_remote_code=cfg.trust_remote_code)
    if tokenizer.pad_token_id is None:
        # LLaMA-2 ships no pad token. Padding is masked by length, so reusing EOS here never drops the EOS label.
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def build_model(cfg: ModelConfig, tokenizer: PreTrainedTokenizerBase, *, empty: bool = False) -> nn.Module:
    """Random init from `model.arch` when `model.path` is null, else `from_pretrained(model.path)`;
    with LoRA adapters (a peft model) when model.lora.r > 0. empty: model.path's architecture on the meta
    device, no weights read (a sharded rank that receives them from rank 0: models/shard.py)."""
    quantization = quantization_config(cfg)
    attn = attention_backend(cfg.attn_implementation)
    dtype = DTYPES[cfg.dtype]
    if cfg.path is None:
        if cfg.arch is None:
            raise ConfigError(f"model={cfg.name} needs model.path (weights to load) or model.arch (random init)")
        arch = cfg.arch if isinstance(cfg.arch, LlamaArch) else LlamaArch(**OmegaConf.to_container(cfg.arch))
        config = LlamaConfig(
            vocab_size=len(tokenizer),
            bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id,
            attn_implementation=attn,
            **asdict(arch),
        )
        model = LlamaForCausalLM(config).to(dtype)
    else:
        _check_folder(cfg.path, "model.path", model_folder=True)
        if empty:
            config = AutoConfig.from_pretrained(cfg.path, trust_remote_code=cfg.trust_remote_code)
            with torch.device("meta"):
                model = AutoModelForCausalLM.from_config(
                    config, dtype=dtype, attn_implementation=attn, trust_remote_code=cfg.trust_remote_code
                )
            return _prepared(model, cfg, tokenizer)
        model = AutoModelForCausalLM.from_pretrained(
            cfg.path, dtype=dtype, attn_implementation=attn, trust_remote_code=cfg.trust_remote_code, **quantization
        )
    return _prepared(model, cfg, tokenizer)


def _prepared(model: PreTrainedModel, cfg: ModelConfig, tokenizer: PreTrainedTokenizerBase) -> nn.Module:
    if cfg.gradient_checkpointing:
        model.gradient_checkpointing_enable()
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    return add_lora(model, cfg).train()  # from_pretrained returns eval mode; these models are built to be trained


def save_hf(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    path: str | Path,
    state_dict: dict | None = None,
    prompt_template: str | None = None,
) -> Path:
    """A folder that `AutoModelForCausalLM.from_pretrained` and vLLM load, with mathlit.json: the exact prompt
    template it was trained with (chat template applied), which evaluation and sampling use by default."""
    path = Path(path)
    with atomic_folder(path) as tmp:  # a kill or a full disk mid-export leaves the previous folder, not half of one
        model.save_pretrained(tmp, state_dict=state_dict, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        write_json(tmp / MARKER, {"prompt_template": prompt_template})
        respect_umask(*(p for p in tmp.iterdir() if p.is_file()))
    return path


def saved_prompt(folder: str | Path | None) -> str | None:
    """The prompt template a mathlit folder was trained with (None: not recorded)."""
    marker = Path(folder) / MARKER if folder else None
    return json.loads(marker.read_text()).get("prompt_template") if marker and marker.is_file() else None
