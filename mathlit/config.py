"""The config schema: every key mathlit reads, with its type and default.

Hydra merges the yaml files in conf/ into these dataclasses, so a misspelled key, a wrong type or a
value outside a key's choices fails at start-up naming the key (e.g. `Key 'lrr' not in 'OptimConfig'`,
`Invalid value 'cosin', expected one of [cosine, linear, constant]`), not an hour into a run.
A choice is a StrEnum: its members compare equal to their strings and format as them (`f"{x}"` is `cosine`).
"""

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, DictConfig, OmegaConf
from omegaconf.errors import ConfigKeyError

from mathlit.errors import ConfigError

ASSETS = Path(__file__).parent / "models"


class Task(StrEnum):
    sft = "sft"
    eval = "eval"
    rft = "rft"
    verifier = "verifier"
    multitask = "multitask"


class Attention(StrEnum):
    sdpa = "sdpa"
    eager = "eager"
    flash_attention_2 = "flash_attention_2"  # falls back to sdpa when flash-attn or a GPU is absent


class Dtype(StrEnum):
    float32 = "float32"
    bfloat16 = "bfloat16"
    float16 = "float16"


class SamplerDtype(StrEnum):
    auto = "auto"  # the engine's choice (float32 on CPU)
    float32 = "float32"
    bfloat16 = "bfloat16"
    float16 = "float16"


class OnBadRow(StrEnum):
    error = "error"
    skip = "skip"  # skipped rows are counted and reported


class Strategy(StrEnum):
    auto = "auto"
    ddp = "ddp"
    fsdp = "fsdp"
    fsdp2 = "fsdp2"


class Optimizer(StrEnum):
    adamw = "adamw"
    adamw8bit = "adamw8bit"  # bitsandbytes


class Schedule(StrEnum):
    cosine = "cosine"
    linear = "linear"
    constant = "constant"


class SamplerName(StrEnum):
    hf = "hf"
    vllm = "vllm"


class LoggerName(StrEnum):
    csv = "csv"
    tensorboard = "tensorboard"
    wandb = "wandb"
    mlflow = "mlflow"


class Aggregate(StrEnum):
    mean = "mean"
    max = "max"
    sum = "sum"


class FinetuneFrom(StrEnum):
    base = "base"
    sft = "sft"


class VerifierLoss(StrEnum):
    pointwise = "pointwise"
    pairwise = "pairwise"


class VerifierHead(StrEnum):
    token = "token"
    scalar = "scalar"


class PairLoss(StrEnum):
    bradley_terry = "bradley_terry"
    margin = "margin"


class VerifierInit(StrEnum):
    generator = "generator"
    base = "base"


class StageKind(StrEnum):
    generate = "generate"
    evaluate = "evaluate"


@dataclass
class LlamaArch:
    """A LLaMA architecture for random initialisation (`model=tiny_llama`)."""

    hidden_size: int = 128
    intermediate_size: int = 384
    num_hidden_layers: int = 4
    num_attention_heads: int = 4
    num_key_value_heads: int = 4
    max_position_embeddings: int = 512
    rope_theta: float = 10000.0
    tie_word_embeddings: bool = True


@dataclass
class ModelConfig:
    name: str = MISSING
    path: str | None = None  # a local HF folder (or a hub id where the network allows) to load weights from
    tokenizer: str | None = None  # for random init; a model folder (`path`) brings its own
    arch: LlamaArch | None = None  # random init from this architecture when `path` is null
    attn_implementation: Attention = Attention.sdpa
    dtype: Dtype = Dtype.float32  # dtype the weights are loaded in
    trust_remote_code: bool = False
    gradient_checkpointing: bool = False


@dataclass
class ArithConfig:
    """Procedural multi-step word problems (`data=arith`)."""

    num_train: int = 3000
    num_test: int = 500
    min_steps: int = 2
    max_steps: int = 3
    max_value: int = 20  # operands in the question are at most this
    max_result: int = 100  # no intermediate or final result exceeds this
    seed: int = 1234


@dataclass
class DataConfig:
    name: str = MISSING  # arith | gsm8k | math
    path: str | None = None  # training file (jsonl); null for arith
    test_path: str | None = None  # held-out evaluation file (jsonl)
    more_paths: list[str] = field(default_factory=list)  # more original training files, treated like `path`
    exclude_path: str | None = None  # training rows whose question is in this file are removed (PRM800K split)
    augment_paths: list[str] = field(default_factory=list)  # added in full after subsampling (RFT / synthetic data)
    prompt_template: str = "{question}"
    train_fraction: float = 1.0  # deterministic subsample of the train set (data-amount scaling)
    max_train_examples: int | None = None
    max_test_examples: int | None = None
    val_examples: int = 64  # held out of the train set for validation loss
    max_length: int = 512  # longer examples are dropped and counted, never truncated (which would lose EOS)
    on_bad_row: OnBadRow = OnBadRow.error
    arith: ArithConfig = field(default_factory=ArithConfig)


@dataclass
class TrainerConfig:
    accelerator: str = "auto"
    devices: Any = "auto"
    num_nodes: int = 1
    strategy: Strategy = Strategy.auto
    precision: str = "auto"  # auto = bf16-mixed on GPU, 32-true on CPU; or any Lightning precision string
    max_steps: int = -1
    max_epochs: int = 3
    global_batch_size: int = 128  # examples per optimizer step, across devices and accumulation
    micro_batch_size: int = 4  # examples per forward pass on one device
    gradient_clip_val: float = 1.0
    val_every_n_steps: int | None = None  # null: once per epoch
    log_every_n_steps: int = 10
    checkpoint_every_n_steps: int = 200
    resume: bool = True  # continue from <run_dir>/checkpoints/last.ckpt when it exists
    deterministic: bool = False
    progress_bar: bool = True


@dataclass
class OptimConfig:
    name: Optimizer = Optimizer.adamw
    lr: float = 2e-5
    weight_decay: float = 0.0
    beta1: float = 0.9
    beta2: float = 0.95
    eps: float = 1e-8
    warmup_ratio: float = 0.03
    schedule: Schedule = Schedule.cosine  # after warm-up
    min_lr_ratio: float = 0.0  # final lr as a share of the peak


@dataclass
class SamplerConfig:
    name: SamplerName = SamplerName.hf
    batch_size: int = 64  # prompts per generate call (hf)
    max_new_tokens: int = 256
    stop: list[str] = field(default_factory=list)
    dtype: SamplerDtype = SamplerDtype.auto
    # vLLM engine settings
    tensor_parallel_size: int = 1
    gpu_memory_utilization: float = 0.85
    max_model_len: int | None = None
    enforce_eager: bool = False
    max_num_seqs: int | None = None  # vLLM's cap on sequences per step (null: vLLM's default)
    start_timeout_s: float = 600.0
    sleep_mode: bool = True  # GPU: a kept engine sleeps (weights to CPU, KV cache freed) while training runs


@dataclass
class LoggerConfig:
    name: LoggerName = LoggerName.csv
    project: str = "mathlit"
    kwargs: dict[str, Any] = field(default_factory=dict)


@dataclass
class TaskConfig:
    name: Task = MISSING


@dataclass
class EvalConfig:
    greedy: bool = True  # one greedy completion per problem (maj1@1)
    n: int = 16  # sampled completions per problem for pass@k, maj@k, PassRatio@N; 0 = none
    temperature: float = 0.7
    top_p: float = 1.0
    max_examples: int | None = None  # the first N test problems
    samples_path: str | None = None  # score an existing samples.jsonl instead of sampling
    rerank: str | None = None  # a verifier folder: re-rank the N samples with it
    rerank_top_k: int = 8  # cluster re-ranking keeps the K largest answer clusters
    rerank_aggregate: Aggregate = Aggregate.mean  # a cluster's score from its members'


@dataclass
class RFTConfig:
    """Rejection-sampling fine-tuning (task=rft)."""

    k: int = 100  # sampled paths per training question
    temperature: float = 0.7
    top_p: float = 1.0
    max_new_tokens: int = 256
    rounds: int = 1  # >1: the newest model regenerates the data
    sft_path: str | None = None  # an existing SFT folder: skip the SFT stage
    sources: list[str] = field(default_factory=list)  # more samples.jsonl files or model folders to pool (RFT-U13B)
    finetune_from: FinetuneFrom = FinetuneFrom.base
    dedup: bool = True  # distinct equation lists only (else distinct texts)
    dedup_with_reference: bool = True  # the reference solution's equations count as taken
    max_questions: int | None = None  # sample for the first N training questions only
    every_n_epochs: int | None = None  # regenerate inside a stage every N epochs, not between stages
    sync_timeout_s: float = 600.0  # loading weights into the vLLM engine
    probe_tolerance: float = 1e-3  # max |log-prob| gap between engine and trainer after a sync (fp32)


@dataclass
class VerifierConfig:
    """Solution evaluators (task=verifier, and the evaluation stage of task=multitask)."""

    # the loss: pointwise (cross-entropy on correct/incorrect) | pairwise (correct vs incorrect)
    name: VerifierLoss = VerifierLoss.pointwise
    head: VerifierHead = VerifierHead.token  # token: the LM's own logits of yes_word vs no_word | scalar: a linear head
    # {question} and {solution}; {prompt} stands for the generation prompt (data.prompt_template)
    prompt_template: str = (
        "Here is a math problem: {question}\nHere is a candidate solution: {solution}\nThe above candidate solution is"
    )
    yes_word: str = " correct"
    no_word: str = " incorrect"
    # bradley_terry: -log sigmoid(z+ - z-) | margin: max(0, log S- - log S+ + margin)
    pair_loss: PairLoss = PairLoss.bradley_terry
    margin: float = 1.0
    lm_weight: float = 0.0  # weight of the generation loss on correct solutions, kept as a regulariser
    generator_path: str | None = None  # the SFT folder that samples candidates (null: an SFT stage first)
    init: VerifierInit = VerifierInit.generator  # start from the generator's weights, or from the base model
    samples_per_question: int = 16
    temperature: float = 0.7
    max_new_tokens: int = 256
    max_questions: int | None = None  # candidates for the first N training questions only
    balance: bool = True
    include_reference: bool = True  # reference solutions join as correct candidates
    max_pairs_per_question: int = 8
    max_steps: int | None = None  # optimizer steps of the verifier stage (null: trainer.max_steps)


@dataclass
class StageConfig:
    kind: StageKind = StageKind.generate  # generate (SFT) | evaluate (verifier training, token head)
    max_steps: int | None = None  # null: trainer.max_steps


@dataclass
class MultitaskConfig:
    """Multi-task sequential fine-tuning of one backbone (task=multitask)."""

    stages: list[StageConfig] = field(
        default_factory=lambda: [
            StageConfig(StageKind.generate),
            StageConfig(StageKind.evaluate),
            StageConfig(StageKind.generate),
        ]
    )


@dataclass
class PathsConfig:
    data: str = "../shared/data"  # root of the GSM8K and MATH files


@dataclass
class MathlitConfig:
    task: TaskConfig = field(default_factory=TaskConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    sampler: SamplerConfig = field(default_factory=SamplerConfig)
    logger: LoggerConfig = field(default_factory=LoggerConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    rft: RFTConfig = field(default_factory=RFTConfig)
    verifier: VerifierConfig = field(default_factory=VerifierConfig)
    multitask: MultitaskConfig = field(default_factory=MultitaskConfig)
    paths: PathsConfig = field(default_factory=PathsConfig)
    seed: int = 42
    run_dir: str = "${hydra:runtime.output_dir}"


def check_keys(cfg: DictConfig) -> None:
    """Hydra adds a `+key=value` the schema lacks without a word: every key must be one mathlit reads."""
    try:
        OmegaConf.merge(OmegaConf.structured(MathlitConfig), OmegaConf.to_container(cfg))  # plain: Hydra's flags off
    except ConfigKeyError as e:
        raise ConfigError(f"{e.full_key}: no such config key (see mathlit/config.py for the keys)") from None


def register() -> None:
    """Make the schema and the `${asset:...}` resolver known to Hydra (idempotent)."""
    ConfigStore.instance().store(name="mathlit_schema", node=MathlitConfig)
    if not OmegaConf.has_resolver("asset"):
        OmegaConf.register_new_resolver("asset", lambda name: str(ASSETS / name))


register()
