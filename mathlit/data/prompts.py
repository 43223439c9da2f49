"""The prompt template every stage of a run uses, settled once at start-up.

    python -m mathlit model=qwen2_5_0_5b model.path=/models/Qwen2.5-0.5B-Instruct data.prompt_format=chat
    python -m mathlit data.prompt_template='Q: {question}\nA:'      # \n typed on the command line is a newline

`data.prompt_format=chat` renders the tokenizer's chat template (system prompt, then data.prompt_template as the
user message) once, with `{question}` left in place, so every stage fills it like a raw template. The final
template is saved with each trained model (hf/mathlit.json), and a run that samples from such a folder uses it
(data.prompt_from_model): a model is never sampled with another prompt than it was trained on.
"""

import logging

from omegaconf import DictConfig
from transformers import PreTrainedTokenizerBase

from mathlit.errors import ConfigError
from mathlit.models.build import load_tokenizer, saved_prompt

log = logging.getLogger(__name__)


def sampled_folder(cfg: DictConfig) -> str | None:
    """The model folder the task samples from, if any."""
    own = {"rft": cfg.rft.sft_path, "verifier": cfg.verifier.generator_path}.get(str(cfg.task.name))
    return own or cfg.model.path


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


def settle_prompt(cfg: DictConfig) -> None:
    """Set data.prompt_template to the exact template of this run (format raw from then on)."""
    data = cfg.data
    saved = saved_prompt(sampled_folder(cfg)) if data.prompt_from_model else None
    if saved is not None:
        if saved != data.prompt_template:
            log.warning("using the prompt template %s was trained with (data.prompt_from_model)", sampled_folder(cfg))
        data.prompt_template = saved
    else:
        template = data.prompt_template.replace("\\n", "\n")
        if data.prompt_format == "chat":
            system = data.system_prompt.replace("\\n", "\n")
            template = chat_template(load_tokenizer(cfg.model), template, system)
        data.prompt_template = template
    data.prompt_format = "raw"
