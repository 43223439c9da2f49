"""The transformers backend: greedy is deterministic, sampling is seeded, EOS and stop strings end text."""

import torch

from mathlit.models.build import build_model
from mathlit.sampling.base import Completion, SamplingParams, cut_at_stop
from mathlit.sampling.hf import HFSampler
from tests.conftest import MICRO_MODEL, make_cfg


def sampler(tokenizer):
    torch.manual_seed(0)
    return HFSampler(build_model(make_cfg(*MICRO_MODEL).model, tokenizer), tokenizer, batch_size=8)


PROMPTS = ["Question: Mia has 3 apples.\nAnswer:\n", "Question: Tom has 12 coins and finds 5 more.\nAnswer:\n"]


def test_greedy_is_deterministic_and_sampling_is_seeded(tokenizer):
    s = sampler(tokenizer)
    greedy = SamplingParams(n=1, temperature=0.0, max_new_tokens=12)
    assert s.generate(PROMPTS, greedy) == s.generate(PROMPTS, greedy)
    hot = SamplingParams(n=4, temperature=1.0, max_new_tokens=12, seed=3)
    first = s.generate(PROMPTS, hot)
    assert first == s.generate(PROMPTS, hot) and [len(c) for c in first] == [4, 4]
    assert len({c.text for c in first[0]}) > 1
    assert first != s.generate(PROMPTS, SamplingParams(n=4, temperature=1.0, max_new_tokens=12, seed=4))


def test_length_limit_and_training_rng_untouched(tokenizer):
    s = sampler(tokenizer)
    state = torch.get_rng_state()
    [[c]] = s.generate(PROMPTS[:1], SamplingParams(n=1, temperature=1.0, max_new_tokens=5))
    assert torch.equal(state, torch.get_rng_state())
    assert (c.num_tokens, c.finish_reason) == (5, "length")  # the untrained model does not say EOS in 5 tokens


def test_finish_reasons_and_token_counts(tokenizer):
    s, eos = sampler(tokenizer), tokenizer.eos_token_id
    digits = tokenizer.convert_tokens_to_ids(["1", "2", "3", "4"])
    params = SamplingParams(max_new_tokens=4, stop=("23",))
    assert s._completion(digits, SamplingParams(max_new_tokens=4)) == Completion("1234", 4, "length")
    assert s._completion([*digits[:2], eos, digits[3]], SamplingParams()) == Completion("12", 3, "stop")  # EOS counts
    assert s._completion(digits, params) == Completion("1", 4, "stop")  # cut at the stop string


def test_stop_strings_cut_text():
    assert cut_at_stop("a\n\nQuestion: b", ("\n\nQuestion:",)) == ("a", True)
    assert cut_at_stop("abc", ("x",)) == ("abc", False)


def test_sampling_draws_from_the_whole_distribution_as_vllm_does(tokenizer):
    """No top-k the user did not ask for, even where the model folder's generation config sets one (Qwen2.5-Instruct
    ships top_k 20): with every token about as likely, more than the 20 most likely are drawn (else RL's log-probs
    over the whole vocabulary would be off-policy, and the HF and vLLM backends would sample different things)."""
    s = sampler(tokenizer)
    s.model.generation_config.top_k = 20
    with torch.no_grad():
        s.model.lm_head.weight.mul_(0.01)  # near-equal logits: a next-token distribution spread over 2,048 tokens
    drawn, generate = [], s.model.generate

    def recording(**kwargs):
        out = generate(**kwargs)
        drawn.extend(out[:, kwargs["input_ids"].shape[1] :].flatten().tolist())
        return out

    s.model.generate = recording
    s.generate(PROMPTS[:1], SamplingParams(n=64, temperature=1.0, max_new_tokens=1, seed=0))
    assert len(drawn) == 64 and len(set(drawn)) > 20  # a top-20 cut would allow 20 distinct tokens at most
