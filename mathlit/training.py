"""One training stage: (LightningModule, DataModule, Trainer) -> checkpoints and a Hugging Face folder.

Every task runs its stages through `fit_stage`, so trainer settings, logging, resumption and export
behave the same in SFT, verifier training and each stage of a multi-task run.
"""

import logging
import sys
from pathlib import Path
from typing import NamedTuple

import lightning as L
import torch
from lightning.pytorch.callbacks import Callback, ModelCheckpoint
from lightning.pytorch.plugins.environments import SLURMEnvironment
from omegaconf import DictConfig, OmegaConf

from callbacks.compile_model import CompileModel
from callbacks.requeue import RequeueOnSignal, StopOnSignal
from callbacks.step_progress import StepRichProgressBar, StepTQDMProgressBar
from mathlit.checkpoints import VerifiedCheckpointIO, resumable
from mathlit.config import LoggerConfig, TrainerConfig
from mathlit.data.datamodule import MathDataModule
from mathlit.data.splits import Splits
from mathlit.data.verifier import (
    VerifierEncoder,
    attach_rationales,
    make_candidates,
    make_pairs,
    verifier_prompt_template,
)
from mathlit.errors import ConfigError
from mathlit.io import atomic_folder
from mathlit.loggers import build_loggers
from mathlit.models.build import context_length, save_hf
from mathlit.models.gather import gathered_model, whole_on_every_rank
from mathlit.models.lora import is_lora
from mathlit.models.release import finish_stage
from mathlit.modules.generator import GeneratorSFT
from mathlit.modules.verifier import VerifierModule
from mathlit.strategies import build_strategy, check_strategy

log = logging.getLogger(__name__)


def resolve_precision(precision: str) -> str:
    if precision == "auto":
        return "bf16-mixed" if torch.cuda.is_available() else "32-true"
    return precision


def build_trainer(
    cfg: TrainerConfig,
    logger_cfg: LoggerConfig,
    out_dir: Path,
    *,
    callbacks: list[Callback] = (),
    global_batch_size: int,
    micro_batch_size: int,
    validate: bool = True,
) -> L.Trainer:
    checkpoints = ModelCheckpoint(
        dirpath=out_dir / "checkpoints",
        save_last=True,
        save_top_k=0,
        every_n_train_steps=cfg.checkpoint_every_n_steps,
        save_on_train_epoch_end=True,
    )
    bar = StepRichProgressBar() if sys.stdout.isatty() else StepTQDMProgressBar(refresh_rate=cfg.log_every_n_steps)
    # Under srun: our preemption handler (callbacks/requeue.py) instead of Lightning's mid-step one.
    on_slurm = SLURMEnvironment.detect()
    last = out_dir / "checkpoints" / "last.ckpt"
    preemption = [StopOnSignal(last), *([RequeueOnSignal(last)] if on_slurm else [])]
    compiled = [CompileModel()] if cfg.compile else []
    trainer = L.Trainer(
        accelerator=cfg.accelerator,
        devices=cfg.devices,
        num_nodes=cfg.num_nodes,
        strategy=build_strategy(cfg),
        precision=resolve_precision(cfg.precision),
        max_steps=cfg.max_steps,
        max_epochs=cfg.max_epochs,
        gradient_clip_val=cfg.gradient_clip_val,
        log_every_n_steps=cfg.log_every_n_steps,
        deterministic=cfg.deterministic,
        logger=build_loggers(logger_cfg, out_dir),
        callbacks=[checkpoints, *preemption, *compiled, *callbacks, *([bar] if cfg.progress_bar else [])],
        plugins=[VerifiedCheckpointIO(), *([SLURMEnvironment(auto_requeue=False)] if on_slurm else [])],
        enable_progress_bar=cfg.progress_bar,
        use_distributed_sampler=False,  # the DataModule shards by rank itself
        default_root_dir=out_dir,
        num_sanity_val_steps=0,
        limit_val_batches=1.0 if validate else 0,
    )
    per_pass = micro_batch_size * trainer.world_size
    if global_batch_size % per_pass:
        raise ConfigError(
            f"trainer.global_batch_size={global_batch_size} must be a multiple of "
            f"trainer.micro_batch_size={micro_batch_size} x {trainer.world_size} devices"
        )
    # Known only now that the world size is: accumulation completes the global batch.
    trainer.accumulate_grad_batches = global_batch_size // per_pass
    if cfg.val_every_n_steps:
        trainer.val_check_interval = cfg.val_every_n_steps * trainer.accumulate_grad_batches
        trainer.check_val_every_n_epoch = None
    return trainer


class StageResult(NamedTuple):
    hf_dir: Path
    global_step: int
    # The trained LM as a plain module where this rank holds it whole: global rank 0 (gathered, see gathered_model)
    # and, unsharded without LoRA (DDP), every rank; None on the other ranks, which read hf_dir
    model: object


def sft_parts(cfg: DictConfig, tokenizer, splits=None, model=None) -> tuple[GeneratorSFT, MathDataModule]:
    """The module and data of a generator SFT stage (splits and starting weights optional)."""
    return GeneratorSFT(cfg.model, cfg.optim, tokenizer, model=model), datamodule(cfg, tokenizer, splits=splits)


def datamodule(cfg: DictConfig, tokenizer, **kwargs) -> MathDataModule:
    """The shared DataModule with the trainer's batch sizes and the run's seed."""
    return MathDataModule(
        cfg.data,
        tokenizer,
        context=context_length(cfg.model),
        global_batch_size=cfg.trainer.global_batch_size,
        micro_batch_size=cfg.trainer.micro_batch_size,
        seed=cfg.seed,
        **kwargs,
    )


def verifier_parts(
    cfg: DictConfig, tokenizer, train_records: list[dict], val_records: list[dict], splits, model=None, teacher=None
) -> tuple[VerifierModule, MathDataModule]:
    """The module and data of a verifier stage: candidates (or pairs) from graded samples of the training
    questions, validated on candidates of the held-out validation questions. objective=generative: each
    candidate with its check (verifier.rationale; `teacher`: the teacher's checks, datagen.rationales)."""
    v = cfg.verifier
    v = OmegaConf.merge(v, {"prompt_template": verifier_prompt_template(cfg)})
    encoder = VerifierEncoder(
        tokenizer,
        v.prompt_template,
        cfg.data.prompt_template,
        with_lm=v.lm_weight > 0,
        objective=v.objective,
        verdict_words=(v.yes_word, v.no_word),
    )
    if v.loss == "pairwise":
        train = make_pairs(
            train_records,
            splits.train,
            max_per_question=v.max_pairs_per_question,
            include_reference=v.include_reference,
            seed=cfg.seed,
        )
        encode = encoder.pairs
    else:
        train = make_candidates(
            train_records, splits.train, balance=v.balance, include_reference=v.include_reference, seed=cfg.seed
        )
        encode = encoder.candidates
    val = make_candidates(val_records, splits.val, balance=False, include_reference=False, seed=cfg.seed)
    if v.objective == "generative":
        train = attach_rationales(train, v.rationale, teacher, style=v.rationale_style)
        val = attach_rationales(val, v.rationale, teacher, training=False, style=v.rationale_style)
    if len(train) < cfg.trainer.global_batch_size:
        raise ConfigError(
            f"only {len(train)} verifier training items (verifier.loss={v.loss}); sample more "
            "(verifier.samples_per_question, verifier.max_questions) or lower trainer.global_batch_size"
        )
    data = datamodule(
        cfg,
        tokenizer,
        encode=encode,
        encode_val=encoder.candidates,
        splits=Splits(train, val, [], {"train": len(train)}),
        pack=False,
    )
    module = VerifierModule(
        cfg.model, cfg.optim, v, tokenizer, global_batch_size=cfg.trainer.global_batch_size, model=model
    )
    return module, data


def stage_steps(cfg: DictConfig, kind: str, own: int | None = None) -> int:
    """A stage's optimizer steps: its own budget (`own`, e.g. multitask.stages[i].max_steps), else for a
    verifier stage verifier.max_steps, else trainer.max_steps. The one place a stage's budget is decided."""
    if own:
        return own
    if kind == "verifier" and cfg.verifier.max_steps:
        return cfg.verifier.max_steps
    return cfg.trainer.max_steps


def with_steps(cfg: DictConfig, max_steps: int) -> DictConfig:
    """The same config with another trainer.max_steps (a stage's budget, see `stage_steps`)."""
    return OmegaConf.merge(cfg, {"trainer": {"max_steps": max_steps}})


def fit_stage(
    cfg: DictConfig,
    module: L.LightningModule,
    data: MathDataModule,
    out_dir: str | Path,
    *,
    callbacks: list[Callback] = (),
    keep_best: str | None = None,
) -> StageResult:
    """Train (resuming from out_dir/checkpoints/last.ckpt when there is one) and export out_dir/hf: the
    last weights, or with keep_best (a validation metric, higher is better) those of its best validation."""
    out_dir = Path(out_dir)
    check_strategy(cfg)
    data.setup("fit")
    best = None
    if keep_best and data.val_set:
        best = ModelCheckpoint(
            dirpath=out_dir / "checkpoints", filename="best", monitor=keep_best, mode="max", save_weights_only=True
        )
    trainer = build_trainer(
        cfg.trainer,
        cfg.logger,
        out_dir,
        callbacks=[*callbacks, *([best] if best else [])],
        validate=bool(data.val_set),
        global_batch_size=cfg.trainer.global_batch_size,
        micro_batch_size=cfg.trainer.micro_batch_size,
    )
    last = out_dir / "checkpoints" / "last.ckpt"
    ckpt_path = resumable(last) if cfg.trainer.resume else None
    if ckpt_path:
        log.info("resuming from %s", ckpt_path)
    trainer.fit(module, datamodule=data, ckpt_path=str(ckpt_path) if ckpt_path else None)
    finish_stage(trainer)  # the finished state to last.ckpt (a re-run stops at once), then its memory released
    if best is not None and best.best_model_path:
        log.info("exporting the weights of %s=%.4f: %s", keep_best, best.best_model_score, best.best_model_path)
        # A sharded (FSDP) checkpoint is loaded into the model in place and returns no state_dict.
        checkpoint = trainer.strategy.load_checkpoint(best.best_model_path)
        if "state_dict" in checkpoint:
            trainer.strategy.load_model_state_dict(checkpoint)
    hf_dir = out_dir / "hf"
    model = gathered_model(trainer, module)
    if trainer.is_global_zero:
        save_hf(model, module.tokenizer, hf_dir, prompt_template=cfg.data.prompt_template)
        if is_lora(module.model):  # the adapter alone too, for peft's PeftModel.from_pretrained(base, adapter)
            with atomic_folder(out_dir / "adapter") as adapter:
                module.model.save_pretrained(adapter)
    trainer.strategy.barrier()
    if model is None and whole_on_every_rank(trainer, module):
        model = module.model  # this rank's own copy: it samples the test problems with it (mathlit.evaluation)
    return StageResult(hf_dir, trainer.global_step, model)
