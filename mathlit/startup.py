"""What a run checks and settles before its task starts, so that bad settings fail in one line at once, not
after a multi-GB model is loaded or an hour of training:

- every key known and of its type (mathlit.config.check_keys), every number in its range (mathlit.config_ranges);
- a vLLM engine that fits the node (mathlit.sampling.ranks.check_engine_fits), and no purpose asking it for
  several samples at temperature 0 (mathlit.sampling.policy.check_greedy_copies);
- the task's own check: a task module may define `check(cfg)`; without one, `check_training` (the weights to
  load suit the model preset, the strategy can run here);
- the prompt template every stage of the run uses, settled once (`settle_prompt`).

`data.prompt_format=chat` renders the tokenizer's chat template (system prompt, then data.prompt_template as the
user message) once, with `{question}` left in place, so every stage fills it like a raw template. The final
template is saved with each trained model (hf/mathlit.json), and a run that samples from such a folder uses it
(data.prompt_from_model): a model is never sampled with another prompt than it was trained on.
"""

import logging
from importlib.util import find_spec
from types import ModuleType

from omegaconf import DictConfig

from mathlit.config import check_keys
from mathlit.config_ranges import check_values
from mathlit.data.prompts import chat_template
from mathlit.errors import ConfigError
from mathlit.models.build import check_model_choice, load_tokenizer, saved_prompt
from mathlit.sampling.policy import check_greedy_copies
from mathlit.sampling.ranks import check_engine_fits
from mathlit.strategies import check_strategy

log = logging.getLogger(__name__)


def start(cfg: DictConfig, task: ModuleType) -> None:
    check_keys(cfg)
    check_values(cfg)
    check_grading(cfg)
    getattr(task, "check", check_training)(cfg)
    settle_prompt(cfg)
    check_engine_fits(cfg)
    check_greedy_copies(cfg)


def check_grading(cfg: DictConfig) -> None:
    """answers.fallback=math_verify or answers.crosscheck need math-verify installed: else every fallback check
    would silently read "unequal"."""
    if (cfg.answers.fallback == "math_verify" or cfg.answers.crosscheck) and find_spec("math_verify") is None:
        raise ConfigError(
            "answers.fallback=math_verify (and answers.crosscheck) need math-verify: pip install math-verify, "
            "or set answers.fallback=none answers.crosscheck=false"
        )


def check_training(cfg: DictConfig) -> None:
    """A task that loads weights and trains: the weights suit the preset, the strategy runs here, and its weights
    can be sampled (a server's model cannot be the one trained)."""
    check_model_choice(cfg.model)
    check_strategy(cfg)
    if cfg.sampler.name == "openai":
        raise ConfigError(
            f"task={cfg.task.name} samples the weights it trains: sampler=openai samples a server's model instead "
            "(use sampler=hf or vllm)"
        )


def sampled_folder(cfg: DictConfig) -> str | None:
    """The model folder the task samples from, if any."""
    own = {"rft": cfg.rft.sft_path, "verifier": cfg.verifier.generator_path}.get(str(cfg.task.name))
    return own or cfg.model.path


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
