"""Rollouts: G graded samples per question from the weights being trained, stored in resumable shards.

`rollouts` is the one place a step samples: through the run's Policy (mathlit.sampling.policy), which holds the
weights of the step (HF generate on the model in memory, or a vLLM engine they are synced into and probed), and
the sampling records every eval and RFT job writes, so a rerun of an interrupted step finds its shards and reuses
them (they are tied to the weights' digest).
"""

import random
from dataclasses import replace
from pathlib import Path

from transformers import PreTrainedModel

from mathlit.data.example import Example
from mathlit.rl.groups import Group
from mathlit.sampling.policy import Policy, sampling_params


def rollouts(
    policy: Policy, model: PreTrainedModel, step: int, questions: list[Example], out_dir: Path, seed: int
) -> list[dict]:
    """rl.group_size graded records per question (question order, then sample order) in out_dir, sampled with
    `model`'s weights after `step` steps."""
    policy.load(model, version=f"step{step}")
    policy.start_on_every_rank()  # every rank draws at least once a step, all at once: vLLM engines start together
    params = replace(sampling_params(policy.cfg, "grpo"), seed=seed, logprobs=True)  # a backend that can reports them
    return policy.sample(questions, out_dir, params)


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
