"""The chat format of a prompt template (data.prompt_format=chat): the tokenizer's chat template rendered around
data.prompt_template once, with `{question}` left in place (mathlit.startup.settle_prompt settles it at start-up).

    python -m mathlit model=qwen2_5_0_5b model.path=/models/Qwen2.5-0.5B-Instruct data.prompt_format=chat
    python -m mathlit data.prompt_template='Q: {question}\nA:'      # \n typed on the command line is a newline
"""

from transformers import PreTrainedTokenizerBase

from mathlit.errors import ConfigError


def chat_template(tokenizer: PreTrainedTokenizerBase, user: str, system: str) -> str:
    """The chat-formatted prompt with `{question}` kept as a placeholder, without the BOS text that the
    tokenizer adds itself when the prompt is tokenised."""
    if not tokenizer.chat_template:
        raise ConfigError("data.prompt_format=chat: the model's tokenizer has no chat template (use raw)")
    messages = ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": user}]
    text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    bos = tokenizer.bos_token
    if (
        bos
        and text.startswith(bos)
        and tokenizer("x", add_special_tokens=True)["input_ids"][0] == tokenizer.bos_token_id
    ):
        text = text[len(bos) :]
    if "{question}" not in text:
        raise ConfigError("data.prompt_format=chat: the chat template dropped {question} from data.prompt_template")
    return text
