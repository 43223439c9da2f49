import json

import pytest

from mathlit.data.corpus import block_encoder, corpus_splits, read_documents
from mathlit.errors import ConfigError, DataError
from tests.conftest import make_cfg


def pretrain_cfg(*overrides: str):
    cfg = make_cfg(*overrides)
    return cfg.pretrain, cfg.data.arith


def test_text_and_jsonl_corpora_and_their_errors(tmp_path):
    (tmp_path / "c.txt").write_text("first doc\nstill first\n\n\nsecond doc\n")
    assert read_documents(*pretrain_cfg(f"pretrain.path={tmp_path}/c.txt")) == ["first doc\nstill first", "second doc"]
    (tmp_path / "c.jsonl").write_text(json.dumps({"body": "a"}) + "\n" + json.dumps({"body": "b"}) + "\n")
    assert read_documents(*pretrain_cfg(f"pretrain.path={tmp_path}/c.jsonl", "pretrain.text_field=body")) == ["a", "b"]
    with pytest.raises(DataError, match=r"c.jsonl:1: missing or empty field 'text' \(pretrain.text_field\)"):
        read_documents(*pretrain_cfg(f"pretrain.path={tmp_path}/c.jsonl"))
    with pytest.raises(DataError, match="no such file.*pretrain.path"):
        read_documents(*pretrain_cfg(f"pretrain.path={tmp_path}/missing.txt"))
    with pytest.raises(ConfigError, match="must be a .txt or .jsonl"):
        read_documents(*pretrain_cfg(f"pretrain.path={tmp_path}/c.csv"))


def test_arithmetic_text_holds_worked_solutions_and_a_stable_held_out_split():
    splits = corpus_splits(*pretrain_cfg("pretrain.num_documents=50", "pretrain.val_documents=5"))
    assert len(splits.train) == 45 and len(splits.val) == 5 and splits.report == {"documents": 50, "val_documents": 5}
    assert all("<<" in e.solution and "####" in e.solution for e in splits.train)
    more = corpus_splits(*pretrain_cfg("pretrain.num_documents=50", "pretrain.val_documents=5"))
    assert [e.solution for e in more.val] == [e.solution for e in splits.val]
    with pytest.raises(ConfigError, match="pretrain.val_documents=50"):
        corpus_splits(*pretrain_cfg("pretrain.num_documents=50", "pretrain.val_documents=50"))


def test_blocks_are_full_windows_of_the_eos_joined_stream(tokenizer):
    docs = corpus_splits(*pretrain_cfg("pretrain.num_documents=20", "pretrain.val_documents=1")).train
    blocks = block_encoder(tokenizer, 16)(docs)
    stream = [t for ids in tokenizer([d.solution for d in docs])["input_ids"] for t in ids + [tokenizer.eos_token_id]]
    assert len(blocks) == len(stream) // 16 and all(len(b["input_ids"]) == 16 for b in blocks)
    assert blocks[1]["input_ids"] == stream[16:32] and blocks[1]["labels"] == blocks[1]["input_ids"]
