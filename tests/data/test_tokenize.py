"""Prompt tokens are masked, every target ends with a labelled EOS, padding never hides it."""

from mathlit.data.batching import pad_batch
from mathlit.data.tokenize import IGNORE, encode_sft, format_prompt


def test_prompt_is_masked_and_target_ends_with_eos(tokenizer):
    prompt = format_prompt("Question: {question}\nAnswer:\n", "What is 2+3?")
    [encoded] = encode_sft(tokenizer, [prompt], ["2+3=<<2+3=5>>5\n#### 5"])
    n_prompt = len(tokenizer(prompt)["input_ids"])
    assert encoded["labels"][:n_prompt] == [IGNORE] * n_prompt
    assert encoded["labels"][n_prompt:] == encoded["input_ids"][n_prompt:]
    assert encoded["input_ids"][0] == tokenizer.bos_token_id and encoded["labels"][-1] == tokenizer.eos_token_id
    assert tokenizer.decode(encoded["input_ids"][n_prompt:-1]) == "2+3=<<2+3=5>>5\n#### 5"


def test_padding_with_eos_as_pad_keeps_every_eos_label(tokenizer):
    short, long = encode_sft(tokenizer, ["a", "a"], ["#### 1", "1+1=<<1+1=2>>2\n#### 2"])
    batch = pad_batch([short, long], pad_id=tokenizer.eos_token_id)  # the LLaMA-2 trap: pad == eos
    for row, example in zip(range(2), (short, long), strict=True):
        n = len(example["input_ids"])
        assert batch["labels"][row, n - 1] == tokenizer.eos_token_id
        assert (batch["labels"][row, n:] == IGNORE).all() and (batch["attention_mask"][row, n:] == 0).all()
        assert batch["attention_mask"][row, :n].all()
