"""Shared test helpers: the real config composed with overrides, and a very small LLaMA for speed."""

from pathlib import Path

import pytest
from hydra import compose, initialize_config_module
from omegaconf import DictConfig

import mathlit.config  # noqa: F401  (schema and resolvers)

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "mathlit" / "data" / "shipped"  # GSM8K and MATH as mathlit ships them

# A 2-layer, 32-wide LLaMA: a forward+backward takes milliseconds on CPU.
MICRO_MODEL = [
    "model.arch.hidden_size=32",
    "model.arch.intermediate_size=64",
    "model.arch.num_hidden_layers=2",
    "model.arch.num_attention_heads=2",
    "model.arch.num_key_value_heads=2",
]


def make_cfg(*overrides: str, run_dir: Path | None = None) -> DictConfig:
    """The app's config as `python -m mathlit <overrides>` would compose it."""
    extra = [f"run_dir={run_dir}"] if run_dir is not None else ["run_dir=unused"]
    with initialize_config_module("mathlit.conf", version_base="1.3"):
        return compose("config", overrides=[*extra, *overrides])


@pytest.fixture(scope="session")
def tokenizer():
    from mathlit.models.build import load_tokenizer

    return load_tokenizer(make_cfg().model)


def pytest_collection_modifyitems(config, items):
    import importlib.util

    import torch

    skip_vllm = pytest.mark.skip(reason="vllm is not installed")
    skip_gpu = pytest.mark.skip(reason="no CUDA GPU")
    for item in items:
        if "vllm" in item.keywords and importlib.util.find_spec("vllm") is None:
            item.add_marker(skip_vllm)
        if "gpu" in item.keywords and not torch.cuda.is_available():
            item.add_marker(skip_gpu)
