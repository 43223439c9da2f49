"""Which sampled groups and tokens a step trains on: DAPO's dynamic sampling and overlong filtering.

A group is the G graded records (each with its `reward`) of one question, in sample order.
"""

from collections.abc import Callable
from typing import NamedTuple

Group = list[dict]


def has_signal(group: Group) -> bool:
    """Rewards not all equal: an all-correct or all-wrong group has zero advantages and teaches nothing."""
    rewards = [r["reward"] for r in group]
    return max(rewards) != min(rewards)


def overlong_kept(group: Group) -> list[bool]:
    """Per sample: False for one cut off at the generation limit (finish_reason "length"), whose missing
    ending would be punished as if it were wrong (DAPO's overlong filtering masks it out of the loss)."""
    return [r["finish_reason"] != "length" for r in group]


def group_stats(groups: list[Group]) -> dict[str, float]:
    """What a step sampled: questions, the share of groups with signal, response lengths, the share cut off."""
    samples = [r for g in groups for r in g]
    return {
        "questions_sampled": len(groups),
        "groups_with_signal": sum(has_signal(g) for g in groups) / len(groups),
        "response_tokens_mean": sum(r["num_tokens"] for r in samples) / len(samples),
        "response_tokens_max": max(r["num_tokens"] for r in samples),
        "share_cut_off": sum(r["finish_reason"] == "length" for r in samples) / len(samples),
    }


class FilledBatch(NamedTuple):
    groups: list[Group]  # at most `wanted`, all with signal, in the order drawn
    drawn: int  # groups sampled in all
    draws: int  # calls of draw


def fill_batch(draw: Callable[[int], list[Group]], wanted: int, max_draws: int) -> FilledBatch:
    """Dynamic sampling: draw `wanted` groups, keep those with signal, draw `wanted` more while short, at most
    `max_draws` times; then the first `wanted` kept. Short after max_draws: the step trains on fewer groups
    (a bound, so a model that solves every question, or none, cannot sample forever)."""
    kept: list[Group] = []
    drawn = draws = 0
    while len(kept) < wanted and draws < max_draws:
        groups = draw(wanted)
        draws += 1
        drawn += len(groups)
        kept += [g for g in groups if has_signal(g)]
    return FilledBatch(kept[:wanted], drawn, draws)
