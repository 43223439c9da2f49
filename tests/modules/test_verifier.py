"""Verifier module: the score is what the docstring says, each loss learns, and a saved verifier scores the same."""

import pytest
import torch
import torch.nn.functional as F
from omegaconf import OmegaConf

from mathlit.data.batching import pad_batch
from mathlit.data.verifier import Candidate, Pair, VerifierEncoder
from mathlit.errors import ConfigError
from mathlit.models.build import build_model, save_hf
from mathlit.modules.verifier import Scorer, VerifierModule, save_verifier
from tests.conftest import MICRO_MODEL, make_cfg

TEMPLATE = make_cfg().verifier.prompt_template
# Correct solutions end with the right sum, incorrect ones with a wrong one: learnable from the text.
CANDIDATES = [
    Candidate(
        i, f"What is {i}+{i + 1}?", f"{i}+{i + 1}={2 * i + 1 + (i % 2) * 3} #### {2 * i + 1 + (i % 2) * 3}", i % 2 == 0
    )
    for i in range(8)
]


def module(tokenizer, **verifier) -> VerifierModule:
    cfg = make_cfg(*MICRO_MODEL)
    torch.manual_seed(0)
    v = OmegaConf.merge(cfg.verifier, verifier)
    m = VerifierModule(cfg.model, cfg.optim, v, tokenizer, global_batch_size=8, model=build_model(cfg.model, tokenizer))
    m.configure_model()
    return m


def candidate_batch(tokenizer) -> dict:
    encoder = VerifierEncoder(tokenizer, TEMPLATE, "{question}", with_lm=False)
    return pad_batch(encoder.candidates(CANDIDATES), tokenizer.pad_token_id)


def test_token_score_is_the_lm_logit_gap_at_the_last_real_token(tokenizer):
    m = module(tokenizer)
    batch = candidate_batch(tokenizer)
    z = m.score(batch["input_ids"], batch["attention_mask"])
    for i in range(len(CANDIDATES)):  # each sequence alone, unpadded
        n = int(batch["attention_mask"][i].sum())
        logits = m.model(input_ids=batch["input_ids"][i : i + 1, :n]).logits[0, -1]
        assert z[i].item() == pytest.approx((logits[m.yes] - logits[m.no]).item(), abs=1e-4)


@pytest.mark.parametrize("head", ["token", "scalar"])
def test_pointwise_loss_falls_and_separates_a_fixed_batch(tokenizer, head):
    m = module(tokenizer, head=head)
    batch = candidate_batch(tokenizer)
    optimizer = torch.optim.AdamW(m.parameters(), lr=3e-3)
    losses = []
    for _ in range(60):
        loss = m.item_losses(batch).mean()
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        losses.append(loss.item())
    assert losses[-1] < 0.2 * losses[0]
    z = m.score(batch["input_ids"], batch["attention_mask"])
    labels = batch["label"].bool()
    assert z[labels].min() > z[~labels].max()


def test_pairwise_losses_match_their_formulas(tokenizer):
    pairs = [Pair(c.qid, c.question, c.solution, CANDIDATES[c.qid + 1].solution) for c in CANDIDATES[::2]]
    encoder = VerifierEncoder(tokenizer, TEMPLATE, "{question}", with_lm=False)
    batch = pad_batch(encoder.pairs(pairs), tokenizer.pad_token_id)
    bt = module(tokenizer, loss="pairwise", pair_loss="bradley_terry")
    good, bad = (bt.score(batch[f"{p}input_ids"], batch[f"{p}attention_mask"]) for p in ("", "bad_"))
    torch.testing.assert_close(bt.item_losses(batch), -F.logsigmoid(good - bad))
    margin = module(tokenizer, loss="pairwise", pair_loss="margin", margin=0.5)
    expected = (F.logsigmoid(bad) - F.logsigmoid(good) + 0.5).clamp(min=0)
    torch.testing.assert_close(margin.item_losses(batch), expected)


def test_verifier_words_must_differ_in_their_first_token(tokenizer):
    with pytest.raises(ConfigError, match="yes_word and no_word"):
        module(tokenizer, yes_word=" yes", no_word=" yes")


@pytest.mark.parametrize("head", ["token", "scalar"])
def test_saved_verifier_scores_like_the_trained_module(tmp_path, tokenizer, head):
    m = module(tokenizer, head=head)
    if m.head is not None:  # a head that is not the zero-ish default, so a lost head would show
        torch.nn.init.normal_(m.head.weight, std=1.0)
    folder = save_verifier(m, save_hf(m.model, tokenizer, tmp_path / "hf"))
    batch = candidate_batch(tokenizer)
    with torch.no_grad():
        expected = torch.sigmoid(m.score(batch["input_ids"], batch["attention_mask"])).tolist()
    scores = Scorer(folder, batch_size=3).score([(c.question, c.solution) for c in CANDIDATES])
    assert scores == pytest.approx(expected, abs=1e-5)
    assert OmegaConf.create((folder / "verifier.json").read_text()).head == head


def token_batch(tokenizer, objective: str = "token_level") -> dict:
    encoder = VerifierEncoder(tokenizer, TEMPLATE, "{question}", with_lm=False, objective=objective)
    return pad_batch(encoder.candidates(CANDIDATES), tokenizer.pad_token_id)


@pytest.mark.parametrize("token_score", ["mean", "min"])
def test_token_level_scores_reduce_the_solution_tokens_and_the_last(tokenizer, token_score):
    m = module(tokenizer, objective="token_level", token_score=token_score)
    batch = token_batch(tokenizer)
    with torch.no_grad():
        z = m.token_scores(batch["input_ids"], batch["attention_mask"])
        reduced = m.score(batch["input_ids"], batch["attention_mask"], batch["value_targets"])
    for i in range(len(CANDIDATES)):
        scored = z[i][batch["value_targets"][i] != -100]
        assert len(scored) > 5
        expected = scored.mean() if token_score == "mean" else scored.min()
        assert reduced[i].item() == pytest.approx(expected.item(), abs=1e-5)


def test_token_level_loss_is_each_candidates_mean_bce_over_its_labelled_tokens(tokenizer):
    m = module(tokenizer, objective="token_level")
    batch = token_batch(tokenizer)
    with torch.no_grad():
        z = m.token_scores(batch["input_ids"], batch["attention_mask"])
        losses = m.item_losses(batch)
    for i, label in enumerate(batch["label"]):
        scored = z[i][batch["value_targets"][i] != -100]
        expected = F.binary_cross_entropy_with_logits(scored, torch.full_like(scored, float(label)))
        assert losses[i].item() == pytest.approx(expected.item(), abs=1e-5)


@pytest.mark.parametrize("objective", ["token_level", "process"])
def test_dense_objectives_learn_to_separate_a_fixed_batch(tokenizer, objective):
    m = module(tokenizer, objective=objective, token_score="mean")
    batch = token_batch(tokenizer, objective)
    optimizer = torch.optim.AdamW(m.parameters(), lr=3e-3)
    for _ in range(60):
        m.item_losses(batch).mean().backward()
        optimizer.step()
        optimizer.zero_grad()
    with torch.no_grad():
        z = m.score(batch["input_ids"], batch["attention_mask"], batch["value_targets"])
    labels = batch["label"].bool()
    assert z[labels].min() > z[~labels].max()


def test_dense_objectives_train_pointwise_only(tokenizer):
    with pytest.raises(ConfigError, match="verifier=pointwise"):
        module(tokenizer, objective="token_level", loss="pairwise")


def test_dropout_reaches_every_attention_layer(tokenizer):
    m = module(tokenizer, dropout=0.25)
    rates = [layer.attention_dropout for layer in m.model.modules() if hasattr(layer, "attention_dropout")]
    assert rates and set(rates) == {0.25}


@pytest.mark.parametrize("token_score", ["last", "mean"])
def test_saved_token_level_verifier_scores_like_the_trained_module(tmp_path, tokenizer, token_score):
    m = module(tokenizer, objective="token_level", token_score=token_score)
    folder = save_verifier(m, save_hf(m.model, tokenizer, tmp_path / "hf"))
    batch = token_batch(tokenizer)
    with torch.no_grad():
        expected = torch.sigmoid(m.score(batch["input_ids"], batch["attention_mask"], batch["value_targets"]))
    scores = Scorer(folder, batch_size=3).score([(c.question, c.solution) for c in CANDIDATES])
    assert scores == pytest.approx(expected.tolist(), abs=1e-5)
