"""Greedy accuracy of a model on examples: the check every training task ends with."""

from pathlib import Path

from omegaconf import DictConfig
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from mathlit.data.formats import Example
from mathlit.sampling.base import SamplingParams
from mathlit.sampling.hf import HFSampler
from mathlit.sampling.records import sample_records


def greedy_accuracy(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    examples: list[Example],
    cfg: DictConfig,
    out_dir: str | Path,
    source: str,
) -> dict:
    """maj1@1: one greedy completion per example; records go to out_dir/samples.jsonl."""
    params = SamplingParams(
        n=1, temperature=0.0, max_new_tokens=cfg.sampler.max_new_tokens, stop=tuple(cfg.sampler.stop)
    )
    records = sample_records(
        HFSampler(model, tokenizer, cfg.sampler.batch_size),
        examples,
        template=cfg.data.prompt_template,
        params=params,
        out_dir=out_dir,
        source=source,
    )
    correct = sum(r["correct"] for r in records)
    return {"greedy_accuracy": correct / max(1, len(records)), "correct": correct, "problems": len(records)}
