"""Packing: the same examples and target tokens per step as unpacked, and the same logits and loss."""

import pytest
import torch

from mathlit.data.batching import StepBatches, pad_batch
from mathlit.data.packing import best_fit_decreasing, deal, pack_batch
from mathlit.data.tokenize import IGNORE
from mathlit.models.build import build_model
from mathlit.modules.generator import lm_logits, response_loss_sum
from mathlit.training import sft_parts
from tests.conftest import MICRO_MODEL, make_cfg
from tests.data.test_batching import examples


def test_best_fit_decreasing_fills_bins_within_capacity():
    lengths = [7, 5, 4, 3, 3, 2, 1]
    bins = best_fit_decreasing(lengths, 10)
    assert sorted(i for b in bins for i in b) == list(range(7))
    assert all(sum(lengths[i] for i in b) <= 10 for b in bins)
    assert len(bins) == 3  # 25 tokens: the fewest bins of 10 that can hold them
    with pytest.raises(ValueError, match="data.packing=true packs examples of one sequence"):
        pack_batch([{"input_ids": [1], "labels": [1], "pair_input_ids": [2]}], 10, 0)


def test_deal_balances_tokens_and_leaves_no_group_empty():
    lengths = [10, 9, 1, 1, 1, 1]
    groups = deal(list(range(6)), lengths, 3)
    assert sorted(i for g in groups for i in g) == list(range(6)) and all(groups)
    assert sorted(sum(lengths[i] for i in g) for g in groups) == [4, 9, 10]


@pytest.mark.parametrize("world", [1, 2])
def test_packed_steps_hold_the_unpacked_examples_and_token_counts(world):
    data = examples(37)

    def steps(pack_length):
        ranks = [
            StepBatches(
                data,
                global_batch_size=8,
                micro_batch_size=2,
                world_size=world,
                rank=r,
                seed=0,
                pad_id=0,
                pack_length=pack_length,
            )
            for r in range(world)
        ]
        accumulation = ranks[0].accumulation
        for step in range(len(ranks[0]) // accumulation):
            micro = [ranks[r][(1, step * accumulation + a)] for r in range(world) for a in range(accumulation)]
            ids = sorted(int(t) for b in micro for t in b["input_ids"].flatten() if t)
            yield ids, {int(b["step_tokens"]) for b in micro}, micro

    for (ids, tokens, _), (packed_ids, packed_tokens, micro) in zip(steps(None), steps(12), strict=True):
        assert packed_ids == ids and packed_tokens == tokens
        assert all(b["input_ids"].shape[1] <= 12 and "attention_mask" not in b for b in micro)


def test_packed_logits_and_loss_equal_the_unpacked_ones(tokenizer):
    cfg = make_cfg(*MICRO_MODEL, "data.max_train_examples=24", "data.val_examples=0")
    torch.manual_seed(0)
    model = build_model(cfg.model, tokenizer).eval()
    _, data = sft_parts(cfg, tokenizer)
    data.setup("fit")
    chosen = data.train_set[:12]
    capacity = 3 * max(len(e["input_ids"]) for e in chosen)
    packed = pack_batch(chosen, capacity, data.pad_id)
    assert packed["input_ids"].shape[0] < len(chosen)  # several examples share a row
    with torch.no_grad():
        rows = lm_logits(model, packed)
        diff = 0.0
        for e in chosen:  # find each example in its row by its position ids and tokens
            alone = model(input_ids=torch.tensor([e["input_ids"]])).logits[0]
            n = len(e["input_ids"])
            r, start = next(
                (r, s)
                for r in range(rows.shape[0])
                for s in range(rows.shape[1] - n + 1)
                if packed["position_ids"][r, s] == 0 and packed["input_ids"][r, s : s + n].tolist() == e["input_ids"]
            )
            diff = max(diff, (rows[r, start : start + n] - alone).abs().max().item())
        padded_loss, padded_tokens = response_loss_sum(model, pad_batch(chosen, data.pad_id))
        packed_loss, packed_tokens = response_loss_sum(model, packed)
    print(f"packed vs alone: max |logit diff| {diff:.2e}; loss sums {packed_loss:.6f} vs {padded_loss:.6f}")
    assert diff < 1e-5
    assert int(packed_tokens) == int(padded_tokens) == sum(sum(t != IGNORE for t in e["labels"]) for e in chosen)
    torch.testing.assert_close(packed_loss, padded_loss, rtol=1e-6, atol=1e-5)
