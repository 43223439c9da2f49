"""The policy update: what it trains on, micro-batches that add up to the batch, the engine log-prob gap and
the truncated importance correction, on a micro model with hand-made rollouts."""

import math

import lightning as L
import pytest
import torch

from mathlit.data.batching import pad_batch
from mathlit.data.tokenize import IGNORE
from mathlit.models.build import build_model
from mathlit.modules.grpo import GRPOModule, RolloutBatch, RolloutSteps, encode_rollouts, policy_logprobs
from mathlit.rl.settings import RLParts
from tests.conftest import MICRO_MODEL, make_cfg

PARTS = RLParts("group_norm", "seq_mean", 0.2, 0.2, False, False, loss_divisor=16)
RECORDS = [
    {"prompt": "Q: 2+3?\nA:", "completion": " 2+3=5\n#### 5", "finish_reason": "stop"},
    {"prompt": "Q: 2+3?\nA:", "completion": " 2+3=6\n#### 6", "finish_reason": "stop"},
    {"prompt": "Q: 2+3?\nA:", "completion": " 2+3=5 and then", "finish_reason": "length"},
    {"prompt": "Q: 2+3?\nA:", "completion": " 7", "finish_reason": "stop"},
]


def targets(example):
    return [t for t in example["labels"] if t != IGNORE]


def test_eos_is_a_target_only_where_the_sampler_stopped_and_overlong_samples_are_masked(tokenizer):
    kept, filtered = encode_rollouts(tokenizer, RECORDS, False), encode_rollouts(tokenizer, RECORDS, True)
    eos = tokenizer.eos_token_id
    assert targets(kept[0])[-1] == eos and targets(kept[2])[-1] != eos
    assert targets(kept[2]) == tokenizer(" 2+3=5 and then", add_special_tokens=False)["input_ids"]
    assert targets(filtered[2]) == [] and targets(filtered[0]) == targets(kept[0])


def test_the_engines_own_tokens_and_log_probs_are_trained_on_when_given(tokenizer):
    record = RECORDS[0] | {"token_ids": [5, 6, 7], "token_logprobs": [-0.1, -0.2, -0.3]}
    (example,) = encode_rollouts(tokenizer, [record], False)
    prompt = len(tokenizer("Q: 2+3?\nA:")["input_ids"])
    assert example["input_ids"][prompt:] == [5, 6, 7] and targets(example) == [5, 6, 7]
    assert example["engine_logprobs"] == [0.0] * prompt + [-0.1, -0.2, -0.3]


def micro_model(tokenizer):
    torch.manual_seed(0)
    return build_model(make_cfg(*MICRO_MODEL).model, tokenizer)


def one_step(tokenizer, model, batch, micro_batch_size, parts=PARTS, minibatches=1, optim="optim.lr=1e-2") -> L.Trainer:
    optim = make_cfg("optim.warmup_ratio=0", "optim.schedule=constant", optim).optim
    module = GRPOModule(
        make_cfg(*MICRO_MODEL).model,
        optim,
        tokenizer,
        parts,
        lambda *_: batch,
        updates_per_batch=1,
        minibatches=minibatches,
        micro_batch_size=micro_batch_size,
        gradient_clip_val=0.0,
        model=model,
    )
    trainer = L.Trainer(
        max_steps=minibatches,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.fit(module, datamodule=RolloutSteps(1))
    return trainer


def test_micro_batches_give_the_gradient_of_the_whole_batch(tokenizer):
    batch = RolloutBatch(RECORDS, [1.0, -1.0, 0.5, -0.5], {"reward_mean": 0.5})
    for parts in (PARTS, RLParts("group_mean", "token_mean", 0.2, 0.2, False, False)):
        whole, parts_of = micro_model(tokenizer), micro_model(tokenizer)
        one_step(tokenizer, whole, batch, 4, parts)
        one_step(tokenizer, parts_of, batch, 1, parts)
        # the gradient of the step (left on the parameters after it): Adam's first step would hide a scale
        grads = [(a.grad, b.grad) for a, b in zip(whole.parameters(), parts_of.parameters(), strict=True)]
        for a, b in grads:
            torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-7)
        assert max(a.abs().max().item() for a, _ in grads) > 1e-3


def test_the_engine_gap_is_logged_and_truncated_importance_sampling_weights_the_loss(tokenizer):
    """Engine log-probs log(3) below the trainer's: the gap is log 3 on every token, and each token's weight
    min(pi_old / pi_engine, 2) = 2 doubles the loss (advantages 1 and 0.5, rho = 1: seq_mean -0.75 -> -1.5)."""
    model = micro_model(tokenizer)
    plain = RECORDS[:2]
    encoded = encode_rollouts(tokenizer, plain, False)
    batch = pad_batch(encoded, tokenizer.eos_token_id)
    with torch.no_grad():
        logp, _ = policy_logprobs(model, batch)
    records = []
    for i, (record, example) in enumerate(zip(plain, encoded, strict=True)):
        positions = [t - 1 for t, label in enumerate(example["labels"]) if label != IGNORE]
        engine = [logp[i, p].item() - math.log(3) for p in positions]
        records.append(record | {"token_ids": targets(example), "token_logprobs": engine})
    rollout = RolloutBatch(records, [1.0, 0.5], {"reward_mean": 0.5})
    capped = RLParts("group_norm", "seq_mean", 0.2, 0.2, False, False, importance_cap=2.0)
    corrected = one_step(tokenizer, micro_model(tokenizer), rollout, 2, capped).callback_metrics
    assert corrected["rl/logprob_gap_mean"].item() == pytest.approx(math.log(3), abs=1e-5)
    assert corrected["rl/logprob_gap_max"].item() == pytest.approx(math.log(3), abs=1e-5)
    assert corrected["rl/loss"].item() == pytest.approx(-1.5, abs=1e-5)
    off = RLParts("group_norm", "seq_mean", 0.2, 0.2, False, False, importance_cap=None)
    plain_loss = one_step(tokenizer, micro_model(tokenizer), rollout, 2, off).callback_metrics["rl/loss"]
    assert plain_loss.item() == pytest.approx(-0.75, abs=1e-5)


def sequence_logprobs(model, tokenizer, records):
    batch = pad_batch(encode_rollouts(tokenizer, records, False), tokenizer.eos_token_id)
    with torch.no_grad():
        logp, _ = policy_logprobs(model, batch)
    return ((batch["labels"][:, 1:] != IGNORE) * logp).sum(dim=1).tolist()


def test_a_step_moves_likelihood_toward_the_sample_with_positive_advantage(tokenizer):
    # The two completions share tokens (" 2+3="), so both may move the same way: the gap between them widens.
    model = micro_model(tokenizer)
    before = sequence_logprobs(model, tokenizer, RECORDS[:2])
    one_step(tokenizer, model, RolloutBatch(RECORDS[:2], [1.0, -1.0], {"reward_mean": 0.5}), 2)
    after = sequence_logprobs(model, tokenizer, RECORDS[:2])
    assert after[0] - before[0] > 0 and after[0] - before[0] > after[1] - before[1] + 1.0


def test_minibatches_take_one_optimizer_step_each_against_the_sampling_weights(tokenizer):
    """Two parts: the first step moves the weights, so the second part's ratios pi_theta / pi_old leave 1 and
    the clip acts on some of its tokens; two steps for the one batch."""
    batch = RolloutBatch(RECORDS, [2.0, -2.0, 1.0, -1.0], {"reward_mean": 0.5})
    optim = "optim.lr=0.2"  # a large step, so that ratios leave [0.8, 1.2]
    trainer = one_step(tokenizer, micro_model(tokenizer), batch, 4, minibatches=2, optim=optim)
    assert trainer.global_step == 2 and trainer.callback_metrics["rl/clip_fraction"].item() > 0
    single = one_step(tokenizer, micro_model(tokenizer), batch, 4, optim=optim)
    assert single.global_step == 1 and single.callback_metrics["rl/clip_fraction"].item() == 0


def test_log_probs_are_those_of_the_sampling_distribution_at_its_temperature(tokenizer):
    model = micro_model(tokenizer)
    batch = pad_batch(encode_rollouts(tokenizer, RECORDS[:1], False), tokenizer.eos_token_id)
    with torch.no_grad():
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits[:, :-1]
        logp, entropy = policy_logprobs(model, batch, temperature=2.0)
    expected = torch.log_softmax(logits / 2.0, dim=-1)
    targets, sampled = batch["input_ids"][:, 1:], batch["labels"][:, 1:] != IGNORE
    torch.testing.assert_close(logp[sampled], expected.gather(-1, targets.unsqueeze(-1)).squeeze(-1)[sampled])
    torch.testing.assert_close(entropy[sampled], -(expected.exp() * expected).sum(-1)[sampled])
    assert not entropy[~sampled].any()  # no target, no entropy


@pytest.mark.parametrize("keeps_logits", [True, False])
def test_log_probs_from_the_first_target_on_equal_those_of_all_logits(tokenizer, monkeypatch, keeps_logits):
    """Rows of different prompt and completion lengths: computing logits only from the first target position on
    (logits_to_keep, or slicing for a model without it) changes no log-prob and no entropy."""
    import mathlit.modules.grpo as grpo

    monkeypatch.setattr(grpo, "accepts_logits_to_keep", lambda model: keeps_logits)
    model = micro_model(tokenizer)
    records = [RECORDS[0] | {"prompt": "A longer prompt than the others: " + RECORDS[0]["prompt"]}, *RECORDS[1:]]
    batch = pad_batch(encode_rollouts(tokenizer, records, False), tokenizer.eos_token_id)
    with torch.no_grad():
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits[:, :-1]
        logp, entropy = policy_logprobs(model, batch)
    expected = torch.log_softmax(logits, dim=-1)
    targets, sampled = batch["input_ids"][:, 1:], batch["labels"][:, 1:] != IGNORE
    assert sampled[:, 0].sum() == 0 and sampled.any(dim=1).all()  # the prompt's positions are skipped
    torch.testing.assert_close(logp[sampled], expected.gather(-1, targets.unsqueeze(-1)).squeeze(-1)[sampled])
    assert not logp[~sampled].any()
    torch.testing.assert_close(entropy[sampled], -(expected.exp() * expected).sum(-1)[sampled])
