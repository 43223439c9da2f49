"""Step planning: every optimizer step sees global_batch_size distinct examples and knows its token count."""

import pytest

from mathlit.data.batching import EpochSampler, StepBatches, target_tokens
from mathlit.errors import ConfigError


def examples(n):
    # Example i has i % 7 + 1 target tokens and a prompt of 3 tokens.
    return [{"input_ids": [i] * (3 + i % 7 + 1), "labels": [-100] * 3 + [i] * (i % 7 + 1)} for i in range(n)]


def batches(data, rank=0, world=2, micro=2, global_batch=8, seed=0):
    return StepBatches(
        data, global_batch_size=global_batch, micro_batch_size=micro, world_size=world, rank=rank, seed=seed, pad_id=0
    )


def ids(batch):
    return {int(row[0]) for row in batch["input_ids"]}


def test_each_step_covers_the_global_batch_across_ranks_and_accumulation():
    data = examples(37)
    ranks = [batches(data, rank=r) for r in range(2)]
    assert ranks[0].accumulation == 2 and len(ranks[0]) == 4 * 2  # 37 // 8 steps, 2 micro-batches each
    seen = set()
    for step in range(4):
        micro = [ranks[r][(0, step * 2 + a)] for r in range(2) for a in range(2)]
        step_ids = set().union(*(ids(b) for b in micro))
        assert len(step_ids) == 8 and not step_ids & seen
        seen |= step_ids
        expected_tokens = sum(target_tokens(data[i]) for i in step_ids)
        assert all(int(b["step_tokens"]) == expected_tokens for b in micro)


def test_order_is_a_function_of_seed_and_epoch():
    data = examples(40)
    a, b = batches(data), batches(data)
    assert ids(a[(3, 1)]) == ids(b[(3, 1)])
    assert [ids(a[(0, j)]) for j in range(len(a))] != [ids(a[(1, j)]) for j in range(len(a))]
    assert [ids(a[(0, j)]) for j in range(len(a))] != [ids(batches(data, seed=1)[(0, j)]) for j in range(len(a))]


def test_sampler_resumes_inside_the_first_epoch_only():
    sampler = EpochSampler(5, start=3)
    sampler.set_epoch(2)
    assert list(sampler) == [(2, 3), (2, 4)] and len(sampler) == 5
    sampler.set_epoch(3)
    assert list(sampler) == [(3, j) for j in range(5)]


def test_indivisible_batch_names_the_keys():
    with pytest.raises(ConfigError, match="trainer.global_batch_size=10 .* trainer.micro_batch_size=4 x 2 devices"):
        batches(examples(40), micro=4, global_batch=10)
