"""Prompt formatting and tokenisation with the prompt masked out of the loss.

Labels are masked here, when tokenising, from the known prompt length (never by searching the
template in the collator), and every target ends with EOS whose label is kept even when the
tokenizer's pad token is the EOS token: the collator pads by length, not by token value.

Data is text. A question holding `</s><s>` (or `<|im_end|>`) must not end the sequence or the user's turn:
a formatted prompt (`Prompt`) remembers which of its characters came from data, and `encode_prompts` turns any
special token found there back into the text tokens of its characters, while the template's own special tokens
(a chat template's markers, a BOS) stay special. Responses are data throughout. Where the data holds no
special-token text, which is nearly always, the ids are exactly the tokenizer's own.
"""

import re
from collections.abc import Sequence

from transformers import PreTrainedTokenizerBase

IGNORE = -100


class Prompt(str):
    """A formatted prompt: the text, and the (start, end) character spans of the data filled into it."""

    data_spans: tuple[tuple[int, int], ...]

    def __new__(cls, text: str, data_spans: Sequence[tuple[int, int]] = ()):
        prompt = super().__new__(cls, text)
        prompt.data_spans = tuple(data_spans)
        return prompt

    def __reduce__(self):  # pickled (to worker processes) with its spans
        return Prompt, (str(self), self.data_spans)


def fill(template: str, values: dict[str, str]) -> Prompt:
    """The template with each `{name}` of `values` replaced by its value, in one pass (a value holding another
    placeholder stays as written), remembering where the values went."""
    pattern = re.compile("|".join(re.escape(f"{{{name}}}") for name in values))
    text, spans, last = [], [], 0
    length = 0
    for match in pattern.finditer(template):
        literal, value = template[last : match.start()], values[match.group()[1:-1]]
        text += [literal, value]
        spans.append((length + len(literal), length + len(literal) + len(value)))
        length += len(literal) + len(value)
        last = match.end()
    text.append(template[last:])
    return Prompt("".join(text), spans)


def format_prompt(template: str, question: str) -> Prompt:
    return fill(template, {"question": question})


def _special_ids(tokenizer: PreTrainedTokenizerBase) -> dict[int, str]:
    return {i: t.content for i, t in tokenizer.added_tokens_decoder.items() if t.special}


def encode_prompt(
    tokenizer: PreTrainedTokenizerBase, prompt: str, add_special_tokens: bool = True
) -> tuple[list[int], list[tuple[int, int]]]:
    """(ids, character offsets) of one prompt: the tokenizer's own, but a special token lying in the prompt's data
    (Prompt.data_spans) becomes the text tokens of its characters."""
    spans = getattr(prompt, "data_spans", ())
    specials = _special_ids(tokenizer)
    encoded = tokenizer(str(prompt), add_special_tokens=add_special_tokens, return_offsets_mapping=True)
    ids, offsets = [], []
    for token, (a, b) in zip(encoded["input_ids"], encoded["offset_mapping"], strict=True):
        if token in specials and a < b and any(start <= a and b <= end for start, end in spans):
            text = tokenizer(
                prompt[a:b], add_special_tokens=False, split_special_tokens=True, return_offsets_mapping=True
            )
            ids += text["input_ids"]
            offsets += [(a + x, a + y) for x, y in text["offset_mapping"]]
        else:
            ids.append(token)
            offsets.append((a, b))
    return ids, offsets


def encode_prompts(
    tokenizer: PreTrainedTokenizerBase, prompts: Sequence[str], add_special_tokens: bool = True
) -> list[list[int]]:
    """The ids of each prompt, special-token text in its data kept as text (see `encode_prompt`)."""
    plain = tokenizer([str(p) for p in prompts], add_special_tokens=add_special_tokens)["input_ids"]
    specials = set(_special_ids(tokenizer).values())
    out = []
    for prompt, ids in zip(prompts, plain, strict=True):
        in_data = any(s in prompt[a:b] for a, b in getattr(prompt, "data_spans", ()) for s in specials)
        out.append(encode_prompt(tokenizer, prompt, add_special_tokens)[0] if in_data else ids)
    return out


def encode_text(tokenizer: PreTrainedTokenizerBase, texts: Sequence[str]) -> list[list[int]]:
    """Data alone (a response, a solution): special-token text in it is text, and no BOS is added."""
    return tokenizer(list(texts), add_special_tokens=False, split_special_tokens=True)["input_ids"]


def encode_sft(tokenizer: PreTrainedTokenizerBase, prompts: list[str], responses: list[str]) -> list[dict]:
    """[{input_ids, labels}] with labels = IGNORE on the prompt and response + EOS as targets.

    Prompt and response are tokenised separately, exactly as at sampling time (the sampler sees the
    tokenised prompt and generates the response tokens), so training and inference agree on the boundary.
    """
    if tokenizer.eos_token_id is None:
        raise ValueError("the tokenizer has no EOS token; set one in the model folder's tokenizer_config.json")
    prompt_ids = encode_prompts(tokenizer, prompts)
    response_ids = encode_text(tokenizer, responses)
    encoded = []
    for p, r in zip(prompt_ids, response_ids, strict=True):
        target = r + [tokenizer.eos_token_id]
        encoded.append({"input_ids": p + target, "labels": [IGNORE] * len(p) + target})
    return encoded
