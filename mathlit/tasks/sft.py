"""Supervised fine-tuning of the generator, then its greedy accuracy on the test split.

    python -m mathlit                      # the default: tiny LLaMA, procedural arithmetic, CPU, ~4 minutes
    python -m mathlit task=sft model=llama2_7b data=gsm8k model.path=/models/Llama-2-7b-hf

Features: loss on response tokens only, averaged over each optimizer step's tokens (across
gradient accumulation and data-parallel ranks); AdamW with warm-up and cosine decay; exact resume
from <run_dir>/checkpoints/last.ckpt; a Hugging Face folder in <run_dir>/hf; metrics.json.
"""

import logging
import time
from pathlib import Path

import lightning as L
from lightning.pytorch.utilities import rank_zero_only
from omegaconf import DictConfig

from mathlit.evaluate import greedy_accuracy
from mathlit.io import write_json
from mathlit.models.build import load_tokenizer
from mathlit.training import fit_stage, sft_parts

log = logging.getLogger(__name__)


def run(cfg: DictConfig) -> float | None:
    started = time.time()
    run_dir = Path(cfg.run_dir)
    L.seed_everything(cfg.seed, workers=True)
    tokenizer = load_tokenizer(cfg.model)
    module, data = sft_parts(cfg, tokenizer)
    stage = fit_stage(cfg, module, data, run_dir)
    if rank_zero_only.rank != 0:
        return None
    metrics = {"data": data.splits.report, "train_seconds": round(time.time() - started, 1)}
    if data.splits.test:
        metrics.update(
            greedy_accuracy(
                stage.model,
                tokenizer,
                data.splits.test,
                cfg,
                run_dir / "eval_greedy",
                stage.source,
            )
        )
    metrics["seconds"] = round(time.time() - started, 1)
    write_json(run_dir / "metrics.json", metrics)
    accuracy = metrics.get("greedy_accuracy")
    summary = f"greedy accuracy {accuracy:.1%} on {metrics['problems']} test problems; " if accuracy is not None else ""
    print(
        f"mathlit sft: {summary}{metrics['seconds']:.0f} s; model in {stage.hf_dir}; outputs in {run_dir}", flush=True
    )
    return accuracy
