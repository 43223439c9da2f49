"""Weights digests: content, not names or timestamps, decides whether stored samples are reused."""

import os

import torch

from mathlit.models.build import build_model, save_hf
from mathlit.models.digest import folder_digest, model_digest
from tests.conftest import MICRO_MODEL, make_cfg


def micro(tokenizer, seed):
    torch.manual_seed(seed)
    return build_model(make_cfg(*MICRO_MODEL).model, tokenizer)


def test_a_folder_digest_follows_the_bytes_not_the_timestamps(tmp_path, tokenizer):
    a = save_hf(micro(tokenizer, 0), tokenizer, tmp_path / "a")
    b = save_hf(micro(tokenizer, 1), tokenizer, tmp_path / "b")
    before = folder_digest(a)
    (a / ".model.safetensors.tmp").write_bytes(b"half-written")  # a temporary is not part of the model
    (a / "pytorch_model.bin").write_bytes(b"ignored beside safetensors")
    assert folder_digest(a) == before
    # Other weights of the same shape copied in with the old timestamp (cp -p, rsync -a): size and mtime agree.
    stat = (a / "model.safetensors").stat()
    (a / "model.safetensors").write_bytes((b / "model.safetensors").read_bytes())
    os.utime(a / "model.safetensors", ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert (a / "model.safetensors").stat().st_size == stat.st_size
    assert folder_digest(a) == folder_digest(b) != before


def test_a_model_digest_follows_weights_and_tokenizer(tokenizer, tmp_path):
    model = micro(tokenizer, 0)
    digest = model_digest(model, tokenizer)
    assert model_digest(micro(tokenizer, 0), tokenizer) == digest
    assert model_digest(micro(tokenizer, 1), tokenizer) != digest
    tokenizer.save_pretrained(tmp_path)
    other = type(tokenizer).from_pretrained(tmp_path, pad_token=tokenizer.bos_token)
    assert model_digest(model, other) != digest
