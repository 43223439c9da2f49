"""The allowed range of every numeric config key, checked at start-up: a count of 0, a negative seed or a
probability of 2 fails with one line naming the key and its range, before any model is loaded, instead of a
traceback deep in a run (or, worse, a run that goes on with it). `null` stays allowed where the schema allows it.

One table keyed by dotted path ([] for each item of a list); tests/test_config_ranges.py fails, listing them, for
every numeric key of the schema (mathlit/config.py) that has no range here.
"""

import dataclasses
import math
import types
import typing
from collections.abc import Iterator
from dataclasses import dataclass

from omegaconf import DictConfig, ListConfig, OmegaConf

from mathlit.errors import ConfigError


@dataclass(frozen=True)
class Range:
    low: float = -math.inf
    high: float = math.inf
    low_open: bool = False  # low itself excluded
    high_open: bool = False
    also: float | None = None  # one value outside the range that means something (max_steps=-1: no limit)

    def __contains__(self, value: float) -> bool:
        if value == self.also:
            return True
        above = value > self.low if self.low_open else value >= self.low
        below = value < self.high if self.high_open else value <= self.high
        return above and below and not math.isnan(value)

    def __str__(self) -> str:
        if self.high == math.inf:
            text = f"{'>' if self.low_open else '>='} {self.low:g}"
        else:
            text = f"in {'(' if self.low_open else '['}{self.low:g}, {self.high:g}{')' if self.high_open else ']'}"
        return text if self.also is None else f"{self.also:g} or {text}"


COUNT = Range(low=1)  # a positive count: sizes, batches, steps, tokens, samples
COUNT_OR_NONE = Range(low=0)  # 0 is meaningful (none): eval.n, validation examples, retries
SEED = Range(low=0)
POSITIVE = Range(low=0, low_open=True)  # a positive real: learning rate, timeouts, rope theta
NON_NEGATIVE = Range(low=0)  # temperatures (0: greedy), tolerances, weights, margins
PROBABILITY = Range(low=0, high=1)  # shares and ratios
TOP_P = Range(low=0, high=1, low_open=True)
DROPOUT = Range(low=0, high=1, high_open=True)
BETA = Range(low=0, high=1, high_open=True)
STEPS = Range(low=1, also=-1)  # Lightning's -1: no limit

RANGES: dict[str, Range] = {
    "model.arch.hidden_size": COUNT,
    "model.arch.intermediate_size": COUNT,
    "model.arch.num_hidden_layers": COUNT,
    "model.arch.num_attention_heads": COUNT,
    "model.arch.num_key_value_heads": COUNT,
    "model.arch.max_position_embeddings": COUNT,
    "model.arch.rope_theta": POSITIVE,
    "model.lora.r": COUNT_OR_NONE,  # 0: no LoRA
    "model.lora.alpha": POSITIVE,
    "model.lora.dropout": DROPOUT,
    "data.synthetic_max": COUNT_OR_NONE,
    "data.train_fraction": Range(low=0, high=1, low_open=True),
    "data.max_train_examples": COUNT,
    "data.max_test_examples": COUNT,
    "data.val_examples": COUNT_OR_NONE,
    "data.max_length": COUNT,
    "data.max_row_bytes": COUNT,
    "data.arith.num_train": COUNT,
    "data.arith.num_test": COUNT,
    "data.arith.min_steps": COUNT,
    "data.arith.max_steps": COUNT,
    "data.arith.max_value": COUNT,
    "data.arith.max_result": COUNT,
    "data.arith.seed": SEED,
    "trainer.num_nodes": COUNT,
    "trainer.max_steps": Range(low=0, also=-1),  # 0: no step (a stage that exports its starting weights)
    "trainer.max_epochs": STEPS,
    "trainer.global_batch_size": COUNT,
    "trainer.micro_batch_size": COUNT,
    "trainer.gradient_clip_val": NON_NEGATIVE,  # 0: no clipping
    "trainer.collective_timeout_s": POSITIVE,
    "trainer.val_every_n_steps": COUNT,
    "trainer.log_every_n_steps": COUNT,
    "trainer.checkpoint_every_n_steps": COUNT,
    "optim.lr": POSITIVE,
    "optim.weight_decay": NON_NEGATIVE,
    "optim.beta1": BETA,
    "optim.beta2": BETA,
    "optim.eps": POSITIVE,
    "optim.warmup_ratio": PROBABILITY,
    "optim.min_lr_ratio": PROBABILITY,
    "sampler.batch_size": COUNT,
    "sampler.max_new_tokens": COUNT,
    "sampler.tensor_parallel_size": COUNT,
    "sampler.gpu_memory_utilization": Range(low=0, high=1, low_open=True),
    "sampler.max_model_len": COUNT,
    "sampler.max_num_seqs": COUNT,
    "sampler.start_timeout_s": POSITIVE,
    "sampler.max_concurrency": COUNT,
    "sampler.timeout_s": POSITIVE,
    "sampler.max_retries": COUNT_OR_NONE,
    "eval.n": COUNT_OR_NONE,  # 0: greedy only
    "eval.temperature": NON_NEGATIVE,
    "eval.top_p": TOP_P,
    "eval.max_examples": COUNT,
    "eval.rerank_top_k": COUNT,
    "answers.rel_tol": NON_NEGATIVE,
    "rl.loss_divisor": COUNT,
    "rl.epsilon": NON_NEGATIVE,
    "rl.epsilon_low": NON_NEGATIVE,
    "rl.epsilon_high": NON_NEGATIVE,
    "rl.kl_coef": NON_NEGATIVE,
    "rl.max_draws": COUNT,
    "rl.importance_cap": POSITIVE,
    "rl.questions_per_step": COUNT,
    "rl.group_size": COUNT,  # (at least 2: rl.settings says so in its own line)
    "rl.updates_per_batch": COUNT,
    "rl.minibatches": COUNT,
    "rl.temperature": NON_NEGATIVE,
    "rl.top_p": TOP_P,
    "rl.max_new_tokens": COUNT,
    "rl.reward.format": NON_NEGATIVE,
    "rl.reward.calculations": NON_NEGATIVE,
    "rl.reward.verifier": NON_NEGATIVE,
    "rl.reward.overlong": NON_NEGATIVE,
    "rl.reward.overlong_buffer": COUNT,
    "rl.eval_every": COUNT,
    "rl.max_steps": COUNT,
    "rft.k": COUNT,
    "rft.min_correct": COUNT,
    "rft.max_samples": COUNT,
    "rft.temperature": NON_NEGATIVE,
    "rft.top_p": TOP_P,
    "rft.max_new_tokens": COUNT,
    "rft.rounds": COUNT,
    "rft.max_questions": COUNT,
    "rft.every_n_epochs": COUNT,
    "rft.sync_timeout_s": POSITIVE,
    "rft.probe_tolerance": NON_NEGATIVE,
    "verifier.rollouts": COUNT,
    "verifier.dropout": DROPOUT,
    "verifier.margin": NON_NEGATIVE,
    "verifier.lm_weight": NON_NEGATIVE,
    "verifier.samples_per_question": COUNT,
    "verifier.temperature": NON_NEGATIVE,
    "verifier.max_new_tokens": COUNT,
    "verifier.max_questions": COUNT,
    "verifier.max_pairs_per_question": COUNT,
    "verifier.max_steps": COUNT,
    "verifier.rationales": COUNT,
    "verifier.rationale_temperature": NON_NEGATIVE,
    "verifier.rationale_max_new_tokens": COUNT,
    "verifier.teacher_samples": COUNT,
    "multitask.stages[].max_steps": COUNT,
    "pretrain.num_documents": COUNT,
    "pretrain.seed": SEED,
    "pretrain.block_size": COUNT,
    "pretrain.val_documents": COUNT_OR_NONE,
    "synth.seeds": COUNT,
    "synth.per_seed": COUNT,
    "synth.temperature": NON_NEGATIVE,
    "synth.top_p": TOP_P,
    "synth.max_new_tokens": COUNT,
    "synth.answers": COUNT,
    "synth.answer_temperature": NON_NEGATIVE,
    "synth.min_majority": PROBABILITY,
    "synth.max_question_tokens": COUNT,
    "synth.ngram": COUNT,
    "synth.max_overlap": PROBABILITY,
    "seed": SEED,
}


def numeric_keys(schema: type, prefix: str = "") -> Iterator[str]:
    """The dotted path of every int or float key of a schema dataclass (optional or not), nested ones included."""
    for field in dataclasses.fields(schema):
        kind = field.type
        if isinstance(kind, types.UnionType) or typing.get_origin(kind) is typing.Union:
            kind = next(k for k in typing.get_args(kind) if k is not type(None))
        if dataclasses.is_dataclass(kind):
            yield from numeric_keys(kind, f"{prefix}{field.name}.")
        elif typing.get_origin(kind) is list and dataclasses.is_dataclass(typing.get_args(kind)[0]):
            yield from numeric_keys(typing.get_args(kind)[0], f"{prefix}{field.name}[].")
        elif kind in (int, float):
            yield f"{prefix}{field.name}"


def _values(node, path: list[str], shown: str) -> Iterator[tuple[str, object]]:
    """(the key as the user writes it, its value) for a dotted path with [] over list items."""
    if not path:
        yield shown, node
        return
    head, rest = path[0], path[1:]
    items = head.endswith("[]")
    name = head.removesuffix("[]")
    if not isinstance(node, DictConfig) or name not in node:
        return
    child = node[name]
    key = f"{shown}.{name}" if shown else name
    if items and isinstance(child, ListConfig):
        for i, item in enumerate(child):
            yield from _values(item, rest, f"{key}[{i}]")
    elif not items:
        yield from _values(child, rest, key)


def check_ranges(cfg: DictConfig) -> None:
    """ConfigError naming the first numeric key outside its range, and the range."""
    for path, allowed in RANGES.items():
        for key, value in _values(cfg, path.split("."), ""):
            if isinstance(value, int | float) and not isinstance(value, bool) and value not in allowed:
                raise ConfigError(f"{key}={value}: must be {allowed}")


def check_values(cfg: DictConfig) -> None:
    """The start-up checks of values: every numeric key in its range, and a prompt template that holds the
    question (without `{question}` every problem would be trained and evaluated on the same constant prompt)."""
    check_ranges(cfg)
    template = OmegaConf.select(cfg, "data.prompt_template")
    if isinstance(template, str) and "{question}" not in template:
        raise ConfigError(f"data.prompt_template={template!r}: must contain {{question}}, where each problem goes")
