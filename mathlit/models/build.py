"""Tokenizers and causal LMs from a `model` config: random LLaMA from an architecture, or a local HF folder."""

import importlib.util
import logging
from dataclasses import asdict
from pathlib import Path

import torch
from omegaconf import OmegaConf
from transformers import (
    AutoModelForCausalLM,
    AutoTokenizer,
    LlamaConfig,
    LlamaForCausalLM,
    PreTrainedModel,
    PreTrainedTokenizerBase,
)

from mathlit.config import LlamaArch, ModelConfig
from mathlit.errors import ConfigError
from mathlit.io import respect_umask

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


def _check_folder(source: str, key: str) -> None:
    """A missing local folder fails here, naming its key; `org/name` hub ids are left to transformers."""
    looks_like_hub_id = source.count("/") == 1 and not source.startswith((".", "/", "~"))
    if not Path(source).exists() and not looks_like_hub_id:
        raise ConfigError(f"{source}: no such model folder (set by {key})")


def load_tokenizer(cfg: ModelConfig) -> PreTrainedTokenizerBase:
    source = cfg.path or cfg.tokenizer  # a model folder carries its own tokenizer
    if source is None:
        raise ConfigError(f"model={cfg.name} sets neither model.path nor model.tokenizer")
    _check_folder(source, "model.path" if cfg.path else "model.tokenizer")
    tokenizer = AutoTokenizer.from_pretrained(source, trust_remote_code=cfg.trust_remote_code)
    if tokenizer.pad_token_id is None:
        # LLaMA-2 ships no pad token. Padding is masked by length, so reusing EOS here never drops the EOS label.
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def build_model(cfg: ModelConfig, tokenizer: PreTrainedTokenizerBase) -> PreTrainedModel:
    """Random init from `model.arch` when `model.path` is null, else `from_pretrained(model.path)`."""
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
        _check_folder(cfg.path, "model.path")
        model = AutoModelForCausalLM.from_pretrained(
            cfg.path, dtype=dtype, attn_implementation=attn, trust_remote_code=cfg.trust_remote_code
        )
    if cfg.gradient_checkpointing:
        model.gradient_checkpointing_enable()
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    return model.train()  # from_pretrained returns eval mode; these models are built to be trained


def save_hf(
    model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, path: str | Path, state_dict: dict | None = None
) -> Path:
    """A folder that `AutoModelForCausalLM.from_pretrained` and vLLM load."""
    path = Path(path)
    model.save_pretrained(path, state_dict=state_dict, safe_serialization=True)
    tokenizer.save_pretrained(path)
    respect_umask(*(p for p in path.iterdir() if p.is_file()))
    return path
