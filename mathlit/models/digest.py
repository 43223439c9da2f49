"""Digests that name exact weights, so stored samples are reused only for the weights that made them.

A path names a folder, not what is in it: another training run may write its hf/ there, or a checkpoint
be copied over it. Both digests hash content: `folder_digest` every file a loader reads from a saved
folder (weights, config, tokenizer), `model_digest` an in-memory model's tensors and its tokenizer.
SHA-256 runs at ~1.6 GB/s on one core here (it was measured with SHA-NI), so a 13 GB 7B folder costs
~8 s from the page cache (more from a cold network disk): little beside sampling, and exact, where a
size-and-mtime check is fooled by `cp -p` or `rsync -a` of same-shaped weights. Within one process a folder
is hashed once: while no file's size, mtime, ctime or inode has changed, its digest comes from a cache (a run
samples the same generator folder for its candidates, its test samples and its likelihood baseline). ctime is
what `cp -p` cannot carry over: any write sets it to now.
"""

import hashlib
import tempfile
from pathlib import Path

import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase

# Formats transformers and vLLM ignore when safetensors weights are present (LLaMA-2 folders ship both).
_FALLBACK_WEIGHTS = (".bin", ".pt", ".pth", ".ckpt")


# (folder, its files' names and stat) -> digest: hashed once per process while no file changed
_digests: dict[tuple, str] = {}


def folder_digest(folder: str | Path) -> str:
    """sha256 of a model folder's top-level files by name and bytes: hidden files (temporaries) and, beside
    safetensors weights, the unused .bin/.pt copies are left out."""
    files = sorted(p for p in Path(folder).iterdir() if p.is_file() and not p.name.startswith("."))
    if any(p.suffix == ".safetensors" for p in files):
        files = [p for p in files if p.suffix not in _FALLBACK_WEIGHTS]
    stats = [(p.name, p.stat()) for p in files]
    key = (
        str(Path(folder).resolve()),
        tuple((name, s.st_ino, s.st_size, s.st_mtime_ns, s.st_ctime_ns) for name, s in stats),
    )
    if key not in _digests:
        _digests[key] = _hash_files(files)
    return _digests[key]


def _hash_files(files: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in files:
        digest.update(f"{path.name}\0{path.stat().st_size}\0".encode())
        with open(path, "rb") as f:
            digest.update(hashlib.file_digest(f, "sha256").digest())
    return f"sha256:{digest.hexdigest()}"


@torch.no_grad()
def model_digest(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase) -> str:
    """sha256 of a model's tensors (name, dtype, shape, bytes) and of its tokenizer as saved."""
    digest = hashlib.sha256()
    for name, tensor in model.state_dict().items():
        digest.update(f"{name}\0{tensor.dtype}\0{tuple(tensor.shape)}\0".encode())
        digest.update(tensor.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().data)
    with tempfile.TemporaryDirectory() as saved:
        tokenizer.save_pretrained(saved)
        digest.update(folder_digest(saved).encode())
    return f"sha256:{digest.hexdigest()}"
