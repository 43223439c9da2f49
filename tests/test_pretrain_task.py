"""task=pretrain end to end on the micro model: arithmetic text, held-out loss, a folder that task=sft fine-tunes."""

import json

import pytest

from mathlit.errors import ConfigError
from mathlit.tasks import run_task
from tests.conftest import MICRO_MODEL, make_cfg

SMALL = ["task=pretrain", "debug=fast", *MICRO_MODEL, "pretrain.num_documents=120", "pretrain.val_documents=12"]


def test_pretrain_reports_heldout_loss_and_sft_fine_tunes_its_folder(tmp_path):
    pretrained = tmp_path / "pretrain"
    loss = run_task(make_cfg(*SMALL, "pretrain.block_size=64", run_dir=pretrained))
    metrics = json.loads((pretrained / "metrics.json").read_text())
    headline = metrics["headline"]
    assert metrics["heldout_loss"] == loss == headline["loss"]["heldout"] and headline["steps"] == 4
    # The last validation ran at step 4 (debug=fast validates every 2 steps) on the same held-out blocks.
    assert headline["loss"]["val/loss"] == pytest.approx(loss, rel=1e-5)
    data = metrics["data"]
    assert data["documents"] == 120 and data["val_documents"] == 12 and data["train_tokens"] == 64 * data["train"]
    assert headline["data"]["name"] == "arith text" and headline["task"] == "pretrain"

    run_task(make_cfg("debug=fast", f"model.path={pretrained}/hf", run_dir=tmp_path / "sft"))
    sft = json.loads((tmp_path / "sft" / "metrics.json").read_text())["headline"]
    assert sft["model"]["path"] == f"{pretrained}/hf" and sft["steps"] == 4 and "greedy_accuracy" in sft["accuracy"]


def test_pretrain_refuses_a_loaded_model_and_blocks_longer_than_data_max_length_or_the_context(tmp_path):
    with pytest.raises(ConfigError, match="trains from scratch"):
        run_task(make_cfg(*SMALL, "model.path=/weights", run_dir=tmp_path))
    with pytest.raises(ConfigError, match="pretrain.block_size=512 exceeds data.max_length=256"):
        run_task(make_cfg(*SMALL, "pretrain.block_size=512", run_dir=tmp_path))
    with pytest.raises(ConfigError, match=r"pretrain.block_size=256 exceeds the model's context \(128 tokens\)"):
        run_task(make_cfg(*SMALL, "model.arch.max_position_embeddings=128", run_dir=tmp_path))
