"""A generative verifier's score, by hand: the mean over the checks it writes of p(yes) / (p(yes) + p(no)) at the
verdict position; without a rationale, the direct verdict."""

import pytest
import torch
from omegaconf import OmegaConf
from transformers import AutoModelForCausalLM

from mathlit.errors import ConfigError
from mathlit.models.build import build_model, save_hf
from mathlit.modules.verifier import Scorer, VerifierModule, save_verifier, word_token
from tests.conftest import MICRO_MODEL, make_cfg

PAIRS = [
    ("What is 2+3?", "2+3=<<2+3=5>>5\n#### 5"),
    ("What is 2+3?", "2+3=<<2+3=6>>6\n#### 6"),
    ("What is 2+3?", "2+3=<<2+3=5>>5\n#### 5"),  # a repeat: checked once, scored alike
]


def saved_verifier(tokenizer, folder, **verifier):
    cfg = make_cfg(*MICRO_MODEL, "verifier.objective=generative")
    torch.manual_seed(0)
    v = OmegaConf.merge(cfg.verifier, {"prompt_template": cfg.verifier.generative_template}, verifier)
    m = VerifierModule(cfg.model, cfg.optim, v, tokenizer, global_batch_size=8, model=build_model(cfg.model, tokenizer))
    m.configure_model()
    return save_verifier(m, save_hf(m.model, tokenizer, folder)), v.prompt_template


def verdict_probability(model, tokenizer, text_before_check: str, rest: str) -> float:
    """p(yes) / (p(yes) + p(no)) after the check prompt (with BOS) and the check + stem (without)."""
    ids = tokenizer(text_before_check)["input_ids"] + tokenizer(rest, add_special_tokens=False)["input_ids"]
    with torch.no_grad():
        probs = torch.softmax(model(torch.tensor([ids])).logits[0, -1].float(), dim=-1)
    yes, no = probs[word_token(tokenizer, " correct")], probs[word_token(tokenizer, " incorrect")]
    return (yes / (yes + no)).item()


def prompt_before_check(question: str, solution: str) -> str:
    return f"Here is a math problem: {question}\nHere is a candidate solution: {solution}\nCheck:"


def test_the_score_is_the_mean_verdict_probability_over_the_checks_it_writes(tmp_path, tokenizer):
    folder, _ = saved_verifier(tokenizer, tmp_path / "hf")
    run = make_cfg(
        "verifier.rationales=3", "verifier.rationale_temperature=1.0", "verifier.rationale_max_new_tokens=12"
    )
    scorer = Scorer(folder, batch_size=2, cfg=run)
    scores = scorer.score(PAIRS, tmp_path / "checks")
    distinct = PAIRS[:2]
    checks = scorer.checks(distinct, tmp_path / "checks")  # the same checks, read back from their shards
    scorer.close()
    assert [len(c) for c in checks] == [3, 3] and len({c for cs in checks for c in cs}) > 1
    model = AutoModelForCausalLM.from_pretrained(folder).eval()
    for (q, s), written, score in zip(distinct, checks, scores, strict=False):
        by_hand = [
            verdict_probability(model, tokenizer, prompt_before_check(q, s), r + "\nThe above candidate solution is")
            for r in written
        ]
        assert score == pytest.approx(sum(by_hand) / 3, abs=1e-5)
    assert scores[2] == scores[0] and 0 < min(scores) and max(scores) < 1
    rows = (tmp_path / "checks" / "samples.jsonl").read_text().splitlines()
    assert len(rows) == 2 * 3  # each distinct solution checked verifier.rationales times


def test_a_direct_verdict_writes_no_check(tmp_path, tokenizer):
    folder, _ = saved_verifier(tokenizer, tmp_path / "hf", rationale="none")
    scores = Scorer(folder).score(PAIRS)  # nothing to sample: no run config needed
    model = AutoModelForCausalLM.from_pretrained(folder).eval()
    for (q, s), score in zip(PAIRS, scores, strict=True):
        expected = verdict_probability(model, tokenizer, prompt_before_check(q, s), "\nThe above candidate solution is")
        assert score == pytest.approx(expected, abs=1e-5)


def test_a_generative_verifier_that_writes_checks_needs_the_run_config(tmp_path, tokenizer):
    folder, _ = saved_verifier(tokenizer, tmp_path / "hf")
    with pytest.raises(ConfigError, match="generative verifier"):
        Scorer(folder).score(PAIRS)


def test_a_generative_verifier_reads_the_lm_head(tokenizer):
    cfg = make_cfg(*MICRO_MODEL, "verifier.objective=generative", "verifier.head=scalar")
    with pytest.raises(ConfigError, match="verifier.head=token"):
        VerifierModule(cfg.model, cfg.optim, cfg.verifier, tokenizer, global_batch_size=8)
