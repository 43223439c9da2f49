"""The config schema: every key mathlit reads, with its type and what it means; the values are in conf/.

Each value has one home, a yaml file in conf/ (tests/test_configs.py fails when a key has none).

Hydra merges the yaml files in conf/ into these dataclasses, so a misspelled key, a wrong type or a
value outside a key's choices fails at start-up naming the key (e.g. `Key 'lrr' not in 'OptimConfig'`,
`Invalid value 'cosin', expected one of [cosine, linear, constant]`), not an hour into a run.
A choice is a StrEnum: its members compare equal to their strings and format as them (`f"{x}"` is `cosine`).
"""

import re
from dataclasses import dataclass, field
from enum import StrEnum
from importlib.resources import files
from pathlib import Path
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, DictConfig, OmegaConf
from omegaconf.errors import ConfigKeyError

from mathlit.errors import ConfigError

ASSETS = Path(__file__).parent  # files shipped in the package: ${asset:models/tiny_tokenizer}


class Task(StrEnum):
    sft = "sft"
    eval = "eval"
    rft = "rft"
    verifier = "verifier"
    multitask = "multitask"
    report = "report"
    pretrain = "pretrain"
    synth = "synth"
    grpo = "grpo"


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


class PromptFormat(StrEnum):
    raw = "raw"  # data.prompt_template as it is
    chat = "chat"  # data.prompt_template as the user message of the tokenizer's chat template


class AnswerType(StrEnum):
    number = "number"  # '9 (apples)' -> 9, '145.0' -> 145, '1,000' -> 1000; graded as GSM8K answers
    latex = "latex"  # '$\frac{1}{2}$' or '\boxed{...}' -> the expression; graded as MATH answers
    choice = "choice"  # '(b)' or 'B.' -> B; graded as MATH answers (exact letter)


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
    openai = "openai"  # any OpenAI-compatible server (vllm serve, SGLang, a hosted API)


class ServerAPI(StrEnum):
    completions = "completions"  # /v1/completions: the prompt as text (base and SFT models)
    chat = "chat"  # /v1/chat/completions: the prompt as one user message (instruction-tuned models)


class LoggerName(StrEnum):
    csv = "csv"
    tensorboard = "tensorboard"
    wandb = "wandb"
    mlflow = "mlflow"


class Aggregate(StrEnum):
    mean = "mean"
    max = "max"
    sum = "sum"


class ExtractMode(StrEnum):
    strict = "strict"
    lenient = "lenient"


class AnswerFallback(StrEnum):
    none = "none"  # mathlit's verdict alone
    math_verify = "math_verify"  # math-verify compares the answers mathlit could not find equal (bounded)


class RFTInit(StrEnum):
    base = "base"  # the model the SFT stage started from
    sft = "sft"  # the SFT stage's weights


class RFTStrategy(StrEnum):
    uniform = "uniform"  # rft.k paths per question
    prop2diff = "prop2diff"  # DART-Math: more rounds until a target of correct paths that grows with difficulty


class VerifierLoss(StrEnum):
    pointwise = "pointwise"
    pairwise = "pairwise"


class VerifierHead(StrEnum):
    token = "token"
    scalar = "scalar"


class ProcessLabels(StrEnum):
    annotations = "annotations"  # the step of the first <<a op b=c>> that does not hold (arith, GSM8K)
    rollouts = "rollouts"  # the first step whose prefix no sampled completion finishes correctly


class VerifierObjective(StrEnum):
    last_token = "last_token"  # one prediction, at the end of the evaluation prompt (Liu et al. 2023)
    token_level = "token_level"  # the outcome label at every solution token too (Cobbe et al. 2021)
    process = "process"  # step labels: steps from the first wrong calculation on are labelled incorrect
    generative = "generative"  # an LM writes a check of the solution, then its verdict (GenRM, Zhang et al. 2024)


class RationaleSource(StrEnum):
    candidate = "candidate"  # built from the candidate's <<a op b = c>> annotations by exact arithmetic
    teacher = "teacher"  # sampled from a teacher (a model folder or a server), kept where its verdict is the label
    none = "none"  # no rationale: the verdict follows the solution directly


class RationaleStyle(StrEnum):
    restate = "restate"  # "53-37=17 wrong, it is 16": the claim, the judgement, the true result
    recompute = "recompute"  # "53-37=16, it says 17: wrong": the true result first, then the claim and the judgement


class TokenScore(StrEnum):
    last = "last"
    mean = "mean"
    min = "min"


class PairLoss(StrEnum):
    bradley_terry = "bradley_terry"
    margin = "margin"


class VerifierInit(StrEnum):
    generator = "generator"  # the generator's weights (verifier.generator_path or the SFT stage)
    base = "base"  # the model the generator started from


class StageKind(StrEnum):
    generator = "generator"  # SFT on the reference solutions
    verifier = "verifier"  # verifier training (token head) on the current model's sampled candidates


class RLAlgorithm(StrEnum):
    """Sets the parts below (mathlit/rl/settings.py); each part's own key overrides it."""

    grpo = "grpo"  # DeepSeekMath: group mean/std advantage, per-sample mean loss, symmetric clip
    dr_grpo = "dr_grpo"  # Dr. GRPO: no std division, a constant loss divisor
    dapo = "dapo"  # DAPO: clip-higher, per-token loss over the batch, dynamic sampling, overlong filtering
    rloo = "rloo"  # RLOO: leave-one-out advantage


class Advantage(StrEnum):
    group_norm = "group_norm"  # (r - group mean) / group std (GRPO)
    group_mean = "group_mean"  # r - group mean (Dr. GRPO)
    leave_one_out = "leave_one_out"  # r - mean of the group's other rewards (RLOO)


class LossAgg(StrEnum):
    seq_mean = "seq_mean"  # mean over each sample's tokens, then over samples (GRPO)
    token_mean = "token_mean"  # mean over every token of the batch (DAPO)
    constant = "constant"  # sum over tokens / (samples x rl.loss_divisor) (Dr. GRPO)


Quantization = StrEnum("Quantization", {"none": "none", "4bit": "4bit", "8bit": "8bit"})  # bitsandbytes, CUDA only


@dataclass
class LoraSettings:
    """LoRA adapters (peft); the exported hf/ folder has them merged."""

    r: int = MISSING  # rank; 0: no LoRA, every weight trains
    alpha: float = MISSING  # updates are scaled by alpha / r
    dropout: float = MISSING  # dropout on the adapters' input
    target_modules: list[str] = MISSING  # module names inside each layer (q_proj, ..., down_proj)


@dataclass
class LlamaArch:
    """A LLaMA architecture for random initialisation (`model=tiny_llama`)."""

    hidden_size: int = MISSING  # width of the residual stream
    intermediate_size: int = MISSING  # width of the MLP's hidden layer
    num_hidden_layers: int = MISSING  # transformer blocks
    num_attention_heads: int = MISSING  # query heads (head_dim = hidden_size / heads)
    num_key_value_heads: int = MISSING  # key/value heads (fewer than the query heads: grouped-query attention)
    max_position_embeddings: int = MISSING  # context length in tokens
    rope_theta: float = MISSING  # base of the rotary position embedding
    tie_word_embeddings: bool = MISSING  # the output layer shares the input embedding's weights


@dataclass
class ModelConfig:
    name: str = MISSING  # the model option's name (model=<name>); picks the scale preset (scale=${model})
    path: str | None = MISSING  # a local HF folder to load weights from (never a hub lookup: download hub models first)
    tokenizer: str | None = MISSING  # for random init; a model folder (`path`) brings its own
    arch: LlamaArch | None = MISSING  # random init from this architecture when `path` is null
    attn_implementation: Attention = MISSING
    dtype: Dtype = MISSING  # dtype the weights are loaded in
    trust_remote_code: bool = MISSING  # let transformers run a model folder's own Python code (needed by some families)
    gradient_checkpointing: bool = MISSING  # recompute activations in the backward pass: less memory, same gradients
    quantization: Quantization = MISSING  # 4bit | 8bit: a bitsandbytes base under LoRA adapters (QLoRA)
    lora: LoraSettings = field(default_factory=LoraSettings)


@dataclass
class ArithConfig:
    """Procedural multi-step word problems (`data=arith`)."""

    num_train: int = MISSING  # generated training problems
    num_test: int = MISSING
    min_steps: int = MISSING  # fewest arithmetic steps per problem
    max_steps: int = MISSING  # most arithmetic steps per problem
    max_value: int = MISSING  # operands in the question are at most this
    max_result: int = MISSING  # no intermediate or final result exceeds this
    seed: int = MISSING  # the generator's seed (the same seed: the same problems)


@dataclass
class FieldsConfig:
    """Which fields of a data file's rows hold what (`data.fields.*`); all null: GSM8K, MATH or mathlit rows."""

    question: str | None = MISSING  # a field name, or a template joining fields: "{Body} {Question}"
    answer: str | None = MISSING  # the gold answer, read per data.answer_type
    solution: str | None = MISSING  # the reference solution to train on (null: the answer line alone)
    id: str | None = MISSING  # a row's id (null: file:line)


@dataclass
class DataConfig:
    name: str = MISSING  # arith | gsm8k | math | custom
    # training file: jsonl (or .jsonl.gz), json, parquet, csv, or hub:NAME[:SPLIT] through HF datasets; null for arith
    path: str | None = MISSING
    test_path: str | None = MISSING  # held-out evaluation file, read like `path`
    more_paths: list[str] = MISSING  # more original training files, treated like `path`
    exclude_path: str | None = MISSING  # training rows whose question is in this file are removed (PRM800K split)
    augment_paths: list[str] = MISSING  # added in full after subsampling (RFT / synthetic data)
    prompt_template: str = MISSING  # {question} stands for the question; a literal \n typed in it is a newline
    prompt_format: PromptFormat = MISSING
    system_prompt: str = MISSING  # the system message of the chat format ("": none)
    prompt_from_model: bool = MISSING  # a model folder mathlit trained is sampled with the prompt it was trained on
    synthetic_max: int | None = MISSING  # at most this many synthetic rows (task=synth's) of augment_paths
    train_fraction: float = MISSING  # deterministic subsample of the train set (data-amount scaling)
    max_train_examples: int | None = MISSING  # at most N training examples after train_fraction (null: all)
    max_test_examples: int | None = MISSING  # the first N test problems only (null: all)
    val_examples: int = MISSING  # held out of the train set for validation loss
    max_length: int = MISSING  # longer examples are dropped and counted, never truncated (which would lose EOS)
    max_row_bytes: int = MISSING  # a longer jsonl row is a bad row, rejected before it is parsed or tokenised
    on_bad_row: OnBadRow = MISSING
    packing: bool = MISSING  # SFT examples packed into rows of max_length tokens, none attending to another
    fields: FieldsConfig = field(default_factory=FieldsConfig)
    answer_type: AnswerType = MISSING  # how a mapped answer field is read (with data.fields.answer)
    arith: ArithConfig = field(default_factory=ArithConfig)  # data=arith's generator (unread for file datasets)


@dataclass
class TrainerConfig:
    accelerator: str = MISSING  # auto | cpu | gpu (Lightning's accelerator)
    devices: Any = MISSING  # devices per node: a number, a list of ids or auto
    num_nodes: int = MISSING  # machines (SLURM sets it from the allocation)
    strategy: Strategy = MISSING  # auto (one device) | ddp | fsdp | fsdp2 (sharded models)
    precision: str = MISSING  # auto = bf16-mixed on GPU, 32-true on CPU; or any Lightning precision string
    max_steps: int = MISSING  # optimizer steps to train; -1: max_epochs decides
    max_epochs: int = MISSING  # passes over the training data when max_steps is -1
    global_batch_size: int = MISSING  # examples per optimizer step, across devices and accumulation
    micro_batch_size: int = MISSING  # examples per forward pass on one device
    gradient_clip_val: float = MISSING  # clip the gradient norm to this (0: no clipping)
    collective_timeout_s: float = MISSING  # how long ranks wait in a collective (rank 0 sampling meanwhile)
    val_every_n_steps: int | None = MISSING  # null: once per epoch
    log_every_n_steps: int = MISSING  # a row in the log (metrics.csv, the tracker) every N optimizer steps
    checkpoint_every_n_steps: int = MISSING  # write checkpoints/last.ckpt every N optimizer steps (what a kill loses)
    resume: bool = MISSING  # continue from <run_dir>/checkpoints/last.ckpt when it exists
    compile: bool = MISSING  # torch.compile the model's forward while training (callbacks/compile_model.py)
    deterministic: bool = MISSING  # torch's deterministic algorithms (slower; bitwise repeatable on one machine)
    progress_bar: bool = MISSING  # the training bar that counts optimizer steps


@dataclass
class OptimConfig:
    name: Optimizer = MISSING  # adamw | adamw8bit (bitsandbytes)
    lr: float = MISSING  # peak learning rate
    weight_decay: float = MISSING  # AdamW's decoupled weight decay
    beta1: float = MISSING  # AdamW's first-moment decay
    beta2: float = MISSING  # AdamW's second-moment decay
    eps: float = MISSING  # AdamW's epsilon
    warmup_ratio: float = MISSING  # share of the planned steps with a linear warm-up
    schedule: Schedule = MISSING  # after warm-up
    min_lr_ratio: float = MISSING  # final lr as a share of the peak


@dataclass
class SamplerConfig:
    name: SamplerName = MISSING  # hf: transformers generate | vllm: a vLLM engine | openai: a server by URL
    batch_size: int = MISSING  # prompts per generate call (hf)
    max_new_tokens: int = MISSING  # tokens per completion at most (a longer one is cut: finish_reason length)
    stop: list[str] = MISSING  # strings that end a completion, besides EOS
    dtype: SamplerDtype = MISSING
    # vLLM engine settings
    tensor_parallel_size: int = MISSING  # GPUs one vLLM engine spans
    gpu_memory_utilization: float = MISSING
    max_model_len: int | None = MISSING  # vLLM's context length (null: the model's)
    enforce_eager: bool = MISSING  # vLLM without CUDA graphs (starts faster, samples slower)
    max_num_seqs: int | None = MISSING  # vLLM's cap on sequences per step (null: vLLM's default)
    start_timeout_s: float = MISSING  # seconds the vLLM engine may take to start
    sleep_mode: bool = MISSING  # GPU: a kept engine sleeps (weights to CPU, KV cache freed) while training runs
    # OpenAI-compatible server settings, read by sampler=openai
    base_url: str | None = MISSING  # e.g. http://127.0.0.1:8000/v1
    served_model: str | None = MISSING  # the model name the server knows
    api: ServerAPI = MISSING
    api_key_env: str = MISSING  # the NAME of the environment variable holding the key (the key is never stored)
    max_concurrency: int = MISSING  # requests in flight at once
    timeout_s: float = MISSING  # per request
    max_retries: int = MISSING  # on connection errors, timeouts, 408/409/429/5xx, with exponential backoff


@dataclass
class LoggerConfig:
    name: LoggerName = MISSING  # csv (always kept) | tensorboard | wandb | mlflow beside it (.[loggers])
    project: str = MISSING  # the W&B project or MLflow experiment
    kwargs: dict[str, Any] = MISSING  # passed to the tracker's Lightning logger (mathlit/loggers.py)


@dataclass
class TaskConfig:
    name: Task = MISSING  # the recipe: mathlit/tasks/<name>.py (task=<name>)


@dataclass
class EvalConfig:
    greedy: bool = MISSING  # one greedy completion per problem (maj1@1)
    n: int = MISSING  # sampled completions per problem for pass@k, maj@k, PassRatio@N; 0 = none
    temperature: float = MISSING  # sampling temperature of the n completions
    top_p: float = MISSING  # nucleus sampling of the n completions (1.0: off)
    max_examples: int | None = MISSING  # the first N test problems
    samples_path: str | None = MISSING  # score an existing samples.jsonl instead of sampling
    shard: str | None = MISSING  # "i/n": sample shards i, i+n, ... of each pass only (one job of an array)
    rerank: str | None = MISSING  # a verifier folder: re-rank the N samples with it
    rerank_top_k: int = MISSING  # cluster re-ranking keeps the K largest answer clusters
    rerank_aggregate: Aggregate = MISSING  # a cluster's score from its members'


@dataclass
class AnswersConfig:
    """Grading of every sample (eval, RFT, verifier data): see mathlit/answers."""

    extract: ExtractMode = MISSING  # strict: \boxed / #### only; lenient: also answer phrases, bold, last number
    rel_tol: float = MISSING  # relative tolerance when either answer is written as a decimal; exact forms: exact
    fallback: AnswerFallback = MISSING  # math_verify: the symbolic fallback behind mathlit's fast path; none: off
    crosscheck: bool = MISSING  # also grade each sample with mathlit alone and math-verify alone (metrics.json)


@dataclass
class RFTConfig:
    """Rejection-sampling fine-tuning (task=rft)."""

    k: int = MISSING  # sampled paths per training question (prop2diff: per round)
    strategy: RFTStrategy = MISSING
    min_correct: int = MISSING  # prop2diff: distinct correct paths wanted for the hardest questions
    max_samples: int = MISSING  # prop2diff: at most this many tries per question (rounds of k)
    temperature: float = MISSING  # sampling temperature of the reasoning paths
    top_p: float = MISSING  # nucleus sampling of the reasoning paths (1.0: off)
    max_new_tokens: int = MISSING  # tokens per sampled path at most
    rounds: int = MISSING  # >1: the newest model regenerates the data
    sft_path: str | None = MISSING  # an existing SFT folder: skip the SFT stage
    sources: list[str] = MISSING  # more samples.jsonl files or model folders to pool (RFT-U13B)
    init: RFTInit = MISSING  # the weights each RFT round starts from
    dedup: bool = MISSING  # distinct equation lists only (else distinct texts)
    dedup_with_reference: bool = MISSING  # the reference solution's equations count as taken
    max_questions: int | None = MISSING  # sample for the first N training questions only
    every_n_epochs: int | None = MISSING  # regenerate inside a stage every N epochs, not between stages
    sync_timeout_s: float = MISSING  # loading weights into the vLLM engine
    probe_tolerance: float | None = MISSING  # max |log-prob| gap engine vs trainer after a sync; null: by engine dtype


@dataclass
class RewardConfig:
    """rl.reward.*: weights of the optional reward terms, added to 1 for a correct answer (0: off)."""

    format: float = MISSING  # an answer was extracted
    calculations: float = MISSING  # the solution has calculations and every <<a op b = c>> holds
    verifier: float = MISSING  # p(correct) of the verifier in rl.reward_model
    overlong: float = MISSING  # DAPO's soft overlong punishment: minus up to this in the last overlong_buffer tokens
    overlong_buffer: int = MISSING  # tokens before rl.max_new_tokens where the length penalty rises from 0 to 1


@dataclass
class RLConfig:
    """Online RL with verifiable rewards (task=grpo). A null part: the one rl.algorithm sets."""

    algorithm: RLAlgorithm = MISSING
    advantage: Advantage | None = MISSING
    loss_agg: LossAgg | None = MISSING
    loss_divisor: int | None = MISSING  # loss_agg=constant's divisor per sample (null: rl.max_new_tokens)
    epsilon: float | None = MISSING  # symmetric clip range (null: the algorithm's)
    epsilon_low: float | None = MISSING  # null: rl.epsilon
    epsilon_high: float | None = MISSING  # null: rl.epsilon (DAPO: 0.28, clip-higher)
    kl_coef: float = MISSING  # KL to a frozen copy of the starting weights (k3); 0: off, and no copy is made
    dynamic_sampling: bool | None = MISSING  # drop groups whose rewards are all equal and sample more questions
    max_draws: int = MISSING  # dynamic sampling: at most this many draws of questions_per_step questions a step
    overlong_filter: bool | None = MISSING  # samples cut off at rl.max_new_tokens are masked out of the loss
    importance_correction: bool = MISSING  # truncated importance sampling with the engine's log-probs
    importance_cap: float = MISSING  # its cap C
    questions_per_step: int = MISSING  # questions per batch of rollouts (all ranks)
    group_size: int = MISSING  # G samples per question
    updates_per_batch: int = MISSING  # mu: passes over each batch of rollouts
    minibatches: int = MISSING  # optimizer steps per pass: the batch split in this many parts
    temperature: float = MISSING  # rollouts' sampling temperature (the trainer's log-probs use the same)
    top_p: float = MISSING  # rollouts' nucleus sampling
    max_new_tokens: int = MISSING  # rollouts' length limit (cut-off samples: rl.overlong_filter)
    reward: RewardConfig = field(default_factory=RewardConfig)
    reward_model: str | None = MISSING  # a verifier folder (task=verifier's <run>/verifier/hf) for rl.reward.verifier
    eval_every: int | None = MISSING  # test accuracy every N steps (null: at the end only)
    max_steps: int = MISSING  # batches of rollouts (optimizer steps: max_steps x updates_per_batch)


@dataclass
class SynthPrompts:
    """The three prompts of task=synth ({question} is replaced); the group synth_prompts=X picks a set."""

    create: str = MISSING  # a new question from the seed question
    verify: str = MISSING  # solve and revise: CREATED QUESTION / VERIFICATION AND MODIFICATION / FINAL CREATED QUESTION
    answer: str | None = MISSING  # a chain-of-thought solution; null: data.prompt_template (an SFT model's own)


@dataclass
class SynthConfig:
    """Synthetic questions (task=synth, Xwin-Math): create, verify, answer, label by majority, filter."""

    seeds: int | None = MISSING  # the first N training questions are seeds (null: all)
    per_seed: int = MISSING  # new questions created from each seed
    temperature: float = MISSING  # creating and verifying
    top_p: float = MISSING  # nucleus sampling when creating and verifying (1.0: off)
    max_new_tokens: int = MISSING  # creating and verifying (answers: sampler.max_new_tokens)
    verify: bool = MISSING  # false: the created question is used as it is (no second call)
    answers: int = MISSING  # m chain-of-thought solutions per new question
    answer_temperature: float = MISSING  # sampling temperature of the m answers
    min_majority: float = MISSING  # the majority answer labels a question when its share of the m reaches this
    max_question_tokens: int = MISSING  # longer new questions are rejected (too_long)
    ngram: int = MISSING  # n of the n-gram overlap with test questions (decontamination)
    max_overlap: float = MISSING  # contaminated when this share of a question's n-grams occur in one test question
    test_paths: list[str] = MISSING  # test files to decontaminate against, besides data's own test split
    prompts: SynthPrompts = field(default_factory=SynthPrompts)


@dataclass
class VerifierConfig:
    """Solution evaluators (task=verifier, and the verifier stages of task=multitask)."""

    # pointwise (cross-entropy on correct/incorrect) | pairwise (correct vs incorrect); the group verifier=X sets it
    loss: VerifierLoss = MISSING
    head: VerifierHead = MISSING  # token: the LM's own logits of yes_word vs no_word | scalar: a linear head
    # where the label is predicted: last_token | token_level | process | generative
    objective: VerifierObjective = MISSING
    token_score: TokenScore = MISSING  # a solution's score from its per-token scores: last | mean | min
    process_labels: ProcessLabels = MISSING  # process: annotations (free) | rollouts (Math-Shepherd)
    rollouts: int = MISSING  # process_labels=rollouts: completions sampled from each step prefix
    dropout: float = MISSING  # attention dropout of the verifier's model and dropout before a scalar head
    keep_best: bool = MISSING  # export the weights of the best validation AUROC, not the last
    # {question} and {solution}; {prompt} stands for the generation prompt (data.prompt_template)
    prompt_template: str = MISSING
    yes_word: str = MISSING  # token head: the word whose probability means correct
    no_word: str = MISSING  # token head: the word whose probability means incorrect
    # bradley_terry: -log sigmoid(z+ - z-) | margin: max(0, log S- - log S+ + margin)
    pair_loss: PairLoss = MISSING
    margin: float = MISSING  # pair_loss=margin: the margin
    lm_weight: float = MISSING  # weight of the generation loss on correct solutions, kept as a regulariser
    generator_path: str | None = MISSING  # the SFT folder that samples candidates (null: an SFT stage first)
    init: VerifierInit = MISSING  # the weights the verifier starts from
    samples_per_question: int = MISSING
    temperature: float = MISSING  # sampling temperature of the training candidates
    max_new_tokens: int = MISSING  # tokens per candidate at most
    max_questions: int | None = MISSING  # candidates for the first N training questions only
    balance: bool = MISSING  # as many correct as incorrect candidates per question
    include_reference: bool = MISSING  # reference solutions join as correct candidates
    max_pairs_per_question: int = MISSING  # pairwise: at most this many (correct, incorrect) pairs per question
    max_steps: int | None = MISSING  # optimizer steps of the verifier stage (null: trainer.max_steps)
    # objective=generative: {question}, {solution}, {rationale} ({prompt} as in prompt_template); the text up to
    # {rationale} prompts the check, the text after it leads to the verdict word
    generative_template: str = MISSING
    rationale: RationaleSource = MISSING  # generative: where training rationales come from
    rationale_style: RationaleStyle = MISSING  # rationale=candidate: restate | recompute
    rationales: int = MISSING  # generative: rationales sampled per solution at scoring, their verdicts averaged
    rationale_temperature: float = MISSING  # generative: sampling temperature of the scoring rationales
    rationale_max_new_tokens: int = MISSING  # generative: tokens per rationale at most (scoring and teacher)
    teacher_path: str | None = MISSING  # rationale=teacher: a model folder sampled with sampler.*
    teacher_sampler: dict[str, Any] = MISSING  # rationale=teacher: overrides of sampler.* for the teacher
    teacher_template: str = MISSING  # rationale=teacher: the teacher's prompt, {question} and {solution}
    teacher_samples: int = MISSING  # rationale=teacher: rationales sampled per candidate (the first right one kept)


@dataclass
class StageConfig:
    kind: StageKind = MISSING  # generator (SFT) | verifier (verifier training, token head)
    max_steps: int | None = MISSING  # null: trainer.max_steps


@dataclass
class MultitaskConfig:
    """Multi-task sequential fine-tuning of one backbone (task=multitask)."""

    stages: list[StageConfig] = MISSING  # the stages in order, each from the previous one's weights
    sft_control: bool = MISSING  # also an SFT-only model with the generator stages' steps summed


@dataclass
class PretrainConfig:
    """Causal-LM pre-training from scratch (task=pretrain)."""

    path: str | None = MISSING  # a .txt (blank-line-separated documents) or .jsonl corpus; null: arithmetic text
    text_field: str = MISSING  # the .jsonl field holding a document
    num_documents: int = MISSING  # arithmetic text: problems with worked solutions (path null)
    seed: int = MISSING  # arithmetic text's generator seed
    block_size: int = MISSING  # tokens per training sequence (documents joined with EOS)
    val_documents: int = MISSING  # held out for the pre-training loss


@dataclass
class ReportConfig:
    """Sweep reports (task=report, and the multirun callback mathlit.hydra_callbacks.SweepReport)."""

    dir: Any = MISSING  # a multirun folder, a run folder, or a list of them


@dataclass
class PathsConfig:
    data: str = MISSING  # root of the GSM8K and MATH files


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
    answers: AnswersConfig = field(default_factory=AnswersConfig)
    rft: RFTConfig = field(default_factory=RFTConfig)
    rl: RLConfig = field(default_factory=RLConfig)
    verifier: VerifierConfig = field(default_factory=VerifierConfig)
    multitask: MultitaskConfig = field(default_factory=MultitaskConfig)
    report: ReportConfig = field(default_factory=ReportConfig)
    pretrain: PretrainConfig = field(default_factory=PretrainConfig)
    synth: SynthConfig = field(default_factory=SynthConfig)
    paths: PathsConfig = field(default_factory=PathsConfig)
    seed: int = MISSING  # seeds data order, initialisation and sampling
    run_dir: str = MISSING  # the run folder (Hydra's; hydra.run.dir=<folder> picks it, and a rerun there resumes)


# Old names (issue 9) -> new: an old one fails at start-up with one line naming the new one.
RENAMED_KEYS = {"verifier.name": "verifier.loss", "rft.finetune_from": "rft.init"}
RENAMED_KINDS = {"generate": "generator", "evaluate": "verifier"}  # multitask.stages[].kind


def renamed(error: str) -> str | None:
    """The line for an old key or stage kind named in a config error's text (Hydra's or OmegaConf's), if any."""
    for old, new in RENAMED_KEYS.items():
        if re.search(rf"(?<![\w.]){re.escape(old)}(?![\w.])", error):
            return f"{old} was renamed: use {new}"
    if "kind" in error:
        for old, new in RENAMED_KINDS.items():
            if f"Invalid value '{old}'" in error:
                return f"multitask.stages kind {old} was renamed: use {new}"
    return None


def check_keys(cfg: DictConfig) -> None:
    """Hydra adds a `+key=value` the schema lacks without a word: every key must be one mathlit reads."""
    try:
        OmegaConf.merge(OmegaConf.structured(MathlitConfig), OmegaConf.to_container(cfg))  # plain: Hydra's flags off
    except ConfigKeyError as e:
        raise ConfigError(
            renamed(f"{e.full_key}") or f"{e.full_key}: no such config key (see mathlit/config.py for the keys)"
        ) from None


def yaml_values(schema: type, file: str) -> DictConfig:
    """One yaml file of conf/ typed by its schema, for code outside Hydra (a saved verifier folder's
    settings start from conf/verifier/pointwise.yaml). The file's own defaults list is not followed."""
    # conf/ is the package mathlit.conf: found this way from a source checkout and from an install alike.
    values = OmegaConf.load(str(files("mathlit.conf") / file))
    values.pop("defaults", None)
    return OmegaConf.merge(OmegaConf.structured(schema), values)


def register() -> None:
    """Make the schema and the `${asset:...}` resolver known to Hydra (idempotent)."""
    ConfigStore.instance().store(name="mathlit_schema", node=MathlitConfig)
    if not OmegaConf.has_resolver("asset"):
        OmegaConf.register_new_resolver("asset", lambda name: str(ASSETS / name))


register()
