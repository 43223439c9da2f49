"""Prompt formatting and tokenisation with the prompt masked out of the loss.

Labels are masked here, when tokenising, from the known prompt length (never by searching the
template in the collator), and every target ends with EOS whose label is kept even when the
tokenizer's pad token is the EOS token: the collator pads by length, not by token value.
"""

from transformers import PreTrainedTokenizerBase

IGNORE = -100


def format_prompt(template: str, question: str) -> str:
    return template.replace("{question}", question)


def encode_sft(tokenizer: PreTrainedTokenizerBase, prompts: list[str], responses: list[str]) -> list[dict]:
    """[{input_ids, labels}] with labels = IGNORE on the prompt and response + EOS as targets.

    Prompt and response are tokenised separately, exactly as at sampling time (the sampler sees the
    tokenised prompt and generates the response tokens), so training and inference agree on the boundary.
    """
    if tokenizer.eos_token_id is None:
        raise ValueError("the tokenizer has no EOS token; set one in the model folder's tokenizer_config.json")
    prompt_ids = tokenizer(prompts, add_special_tokens=True)["input_ids"]
    response_ids = tokenizer(responses, add_special_tokens=False)["input_ids"]
    encoded = []
    for p, r in zip(prompt_ids, response_ids, strict=True):
        target = r + [tokenizer.eos_token_id]
        encoded.append({"input_ids": p + target, "labels": [IGNORE] * len(p) + target})
    return encoded
