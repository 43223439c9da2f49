"""Rollouts: G graded samples per question from the weights being trained, stored in resumable shards.

`rollouts` is the one place a step samples; today HF generate on the model in memory through the sampling
records every eval and RFT job writes (so a rerun of an interrupted step finds its shards and reuses them),
to be switched to the Policy (one sampler per set of weights, vLLM with weight sync) when it lands.
"""

import functools
import logging
import random
from pathlib import Path

from omegaconf import DictConfig
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from mathlit.answers.grading import Grading
from mathlit.data.example import Example
from mathlit.models.digest import model_digest
from mathlit.rl.groups import Group
from mathlit.sampling.base import SamplingParams
from mathlit.sampling.hf import HFSampler
from mathlit.sampling.records import sample_records

log = logging.getLogger(__name__)


@functools.cache
def _say_once(message: str) -> None:
    log.warning(message)


def rollouts(
    cfg: DictConfig,
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    questions: list[Example],
    out_dir: Path,
    seed: int,
) -> list[dict]:
    """rl.group_size graded records per question (question order, then sample order) in out_dir."""
    if cfg.sampler.name != "hf":
        _say_once(
            f"rollouts sample with HF generate on the weights in memory: sampler={cfg.sampler.name} is not used yet"
        )
    params = SamplingParams(
        n=cfg.rl.group_size,
        temperature=cfg.rl.temperature,
        top_p=cfg.rl.top_p,
        max_new_tokens=cfg.rl.max_new_tokens,
        stop=tuple(cfg.sampler.stop),
        seed=seed,
    )
    return sample_records(
        HFSampler(model, tokenizer, cfg.sampler.batch_size),
        questions,
        template=cfg.data.prompt_template,
        params=params,
        out_dir=out_dir,
        grading=Grading.from_config(cfg),
        source=model_digest(model, tokenizer),  # stored rollouts are reused only for the same weights
    )


def as_groups(records: list[dict], questions: list[Example], group_size: int) -> list[Group]:
    """The records of each question, in question order; refuses records out of line with their questions
    (a reward shifted onto another question's sample would train on noise without a word)."""
    if len(records) != len(questions) * group_size:
        raise ValueError(f"{len(records)} records for {len(questions)} questions x {group_size} samples")
    groups = [records[i * group_size : (i + 1) * group_size] for i in range(len(questions))]
    for question, group in zip(questions, groups, strict=True):
        if [(r["id"], r["sample_idx"]) for r in group] != [(question.id, i) for i in range(group_size)]:
            raise ValueError(f"rollout records out of line with question {question.id}")
    return groups


def questions_at(train: list[Example], seed: int, start: int, count: int) -> list[Example]:
    """Questions start .. start+count-1 of an endless stream: each pass over the training set in its own
    seeded order. A pure function of the position, so a resumed step draws what it drew before."""
    orders: dict[int, list[int]] = {}
    picked = []
    for position in range(start, start + count):
        epoch, index = divmod(position, len(train))
        if epoch not in orders:
            orders[epoch] = list(range(len(train)))
            random.Random(seed * 1_000_003 + epoch).shuffle(orders[epoch])
        picked.append(train[orders[epoch][index]])
    return picked
