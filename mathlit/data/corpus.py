"""Raw text for pre-training (task=pretrain): documents from a local file or generated arithmetic, joined with
EOS and cut into fixed-length blocks on which every token is a target.

- `.txt`: documents separated by blank lines; `.jsonl`: one document per row, in the field pretrain.text_field;
- no file: procedural arithmetic text, word problems with their worked solutions from data=arith's generator
  (its settings, pretrain.num_documents problems, pretrain.seed). Only problems the generator assigns to its
  train side are made, so no test problem of data=arith (of any seed) is ever pre-trained on.
A document goes to the held-out split by a hash of its text, so the split is stable across runs and sizes.
"""

import hashlib
from pathlib import Path

from omegaconf import OmegaConf
from transformers import PreTrainedTokenizerBase

from mathlit.config import ArithConfig, PretrainConfig
from mathlit.data import arith
from mathlit.data.datamodule import Encoder
from mathlit.data.formats import Example
from mathlit.data.splits import Splits
from mathlit.errors import ConfigError, DataError
from mathlit.io import parse_jsonl


def read_documents(cfg: PretrainConfig, arith_cfg: ArithConfig) -> list[str]:
    if cfg.path is None:
        settings = OmegaConf.merge(arith_cfg, {"num_train": cfg.num_documents, "num_test": 0, "seed": cfg.seed})
        return [f"{e.question}\n{e.solution}" for e in arith.generate(settings)[0]]
    path = Path(cfg.path)
    if path.suffix == ".jsonl":

        def text(row: dict, lineno: int) -> str:
            if not isinstance(row.get(cfg.text_field), str) or not row[cfg.text_field].strip():
                raise DataError(f"missing or empty field {cfg.text_field!r} (pretrain.text_field)")
            return row[cfg.text_field]

        return parse_jsonl(path, text, config_key="pretrain.path")[0]
    if path.suffix != ".txt":
        raise ConfigError(f"{path}: pretrain.path must be a .txt or .jsonl file")
    if not path.is_file():
        raise DataError(f"{path}: no such file (set by pretrain.path)")
    return [doc.strip() for doc in path.read_text(encoding="utf-8").split("\n\n") if doc.strip()]


def corpus_splits(cfg: PretrainConfig, arith_cfg: ArithConfig) -> Splits:
    """Documents as Examples (the text in `solution`), the held-out ones by hash."""
    documents = read_documents(cfg, arith_cfg)
    ordered = sorted(documents, key=lambda d: hashlib.sha1(d.encode()).hexdigest())
    if not 0 < cfg.val_documents < len(ordered):
        raise ConfigError(f"pretrain.val_documents={cfg.val_documents} must be in [1, {len(ordered)}) documents")
    examples = [Example(f"doc/{i}", "", text, "", "gsm8k") for i, text in enumerate(ordered)]
    train, val = examples[: -cfg.val_documents], examples[-cfg.val_documents :]
    return Splits(train, val, [], {"documents": len(documents), "val_documents": len(val)})


def block_encoder(tokenizer: PreTrainedTokenizerBase, block_size: int) -> Encoder:
    """Documents -> [{input_ids, labels}] blocks of exactly block_size tokens (the last partial one dropped)."""

    def encode(examples: list[Example]) -> list[dict]:
        stream: list[int] = []
        for ids in tokenizer([e.solution for e in examples], add_special_tokens=True)["input_ids"]:
            stream += ids + [tokenizer.eos_token_id]
        blocks = [stream[i : i + block_size] for i in range(0, len(stream) - block_size + 1, block_size)]
        return [{"input_ids": block, "labels": list(block)} for block in blocks]

    return encode
