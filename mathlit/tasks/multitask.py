"""Multi-task sequential fine-tuning (Liu et al. 2023): one backbone learns to generate and to evaluate.

    python -m mathlit task=multitask                       # tiny LLaMA on arith, CPU
    python -m mathlit task=multitask model=llama2_7b model.path=/models/Llama-2-7b-hf data=gsm8k

Stages from multitask.stages (default generator -> verifier -> generator), each a Lightning run starting from
the previous stage's weights:
- generator: SFT on the reference solutions;
- verifier: verifier training with the token head (the model's own "correct"/"incorrect" logits), on
  candidates the current model samples for the training questions; verifier.lm_weight keeps the
  generation loss on correct solutions as a regulariser.
Then, on the test split, the plain SFT model (the first generator stage) and the final model: greedy,
maj@N, and re-ranking with each model as its own verifier (best-of-N, weighted vote, cluster re-ranking)
and by its own likelihood, in metrics.json under "sft" and "multitask". With multitask.sft_control, also
an SFT-only model trained for as many steps as all generator stages together ("sft_control": greedy,
maj@N), so that the multi-task gain is not just more generation steps. The first stage's sampler (one vLLM
engine, in its Policy) samples both the first verifier stage's candidates and its test solutions. Every rank
samples its share of each model's test solutions; global rank 0 re-ranks them.
"""

from pathlib import Path
from typing import NamedTuple

import lightning as L
from omegaconf import DictConfig, OmegaConf
from transformers import PreTrainedTokenizerBase

from mathlit.data.formats import Example
from mathlit.data.splits import Splits, load_splits
from mathlit.data.verifier import verifier_prompt_template
from mathlit.datagen.rationales import check_rationales, teacher_checks
from mathlit.datagen.rollouts import check_process_labels
from mathlit.datagen.verifier import candidates
from mathlit.errors import ConfigError
from mathlit.evaluation import evaluate, sample_test, table
from mathlit.headline import accuracy_figures, merge, training_figures
from mathlit.models.build import build_model, load_tokenizer
from mathlit.modules.verifier import save_verifier, write_verifier_spec
from mathlit.rerankers import TrainedVerifier
from mathlit.sampling.policy import Policy
from mathlit.startup import check_training
from mathlit.tasks import Report
from mathlit.training import fit_stage, sft_parts, stage_steps, verifier_parts, with_steps


def save_verifier_spec(cfg: DictConfig, folder: Path) -> None:
    """How to read a plain generator folder as a token-head verifier, as the verifier stages trained it."""
    write_verifier_spec(
        folder,
        head="token",
        objective=cfg.verifier.objective,  # how the stages trained it: how its scores are read
        token_score=cfg.verifier.token_score,
        prompt_template=verifier_prompt_template(cfg),
        yes_word=cfg.verifier.yes_word,
        no_word=cfg.verifier.no_word,
        rationale=cfg.verifier.rationale,
        rationale_style=cfg.verifier.rationale_style,
    )


class Trained(NamedTuple):
    tokenizer: PreTrainedTokenizerBase
    folders: list[Path]  # each stage's saved weights
    sft_control: Path | None  # SFT only, with the generator stages' steps summed
    test: list[Example]
    steps: int  # optimizer steps of all stages
    data_report: dict


def tested(trained: Trained) -> dict[str, Path]:
    """The models evaluated on the test split, by name: the plain SFT model, the final one, the SFT control."""
    control = {"sft_control": trained.sft_control} if trained.sft_control is not None else {}
    return {"sft": trained.folders[0], "multitask": trained.folders[-1]} | control


def check(cfg: DictConfig) -> None:
    check_training(cfg)
    check_process_labels(cfg.verifier)
    check_rationales(cfg)
    kinds = [s.kind for s in cfg.multitask.stages]
    if not kinds or kinds[0] != "generator":
        raise ConfigError(f"multitask.stages must start with generator, got {[str(k) for k in kinds]}")
    if cfg.verifier.head != "token":
        raise ConfigError("task=multitask needs verifier.head=token: one backbone both generates and evaluates")


def train(cfg: DictConfig) -> Trained:
    run_dir = Path(cfg.run_dir)
    tokenizer = load_tokenizer(cfg.model)
    splits = load_splits(cfg.data)
    verifier_splits = Splits(splits.train[: cfg.verifier.max_questions], splits.val, [], {})
    model, folders, sft_policy, steps_done = None, [], None, 0
    for i, stage in enumerate(cfg.multitask.stages, start=1):
        stage_cfg = with_steps(cfg, stage_steps(cfg, stage.kind, stage.max_steps))
        out = run_dir / f"stage{i}_{stage.kind}"
        L.seed_everything(cfg.seed, workers=True)
        if stage.kind == "generator":
            module, data = sft_parts(stage_cfg, tokenizer, splits, model)
        else:
            policy = Policy(cfg, tokenizer, folder=folders[-1])
            train_records, val_records = candidates(cfg, policy, verifier_splits, out / "candidates")
            if len(folders) == 1:  # the SFT model's: kept for its test evaluation
                sft_policy = policy
                policy.pause()
            else:
                policy.close()
            teacher = teacher_checks(cfg, tokenizer, train_records, val_records, verifier_splits, out / "teacher")
            module, data = verifier_parts(
                stage_cfg, tokenizer, train_records, val_records, verifier_splits, model, teacher
            )
        keep_best = "val/auroc" if stage.kind == "verifier" and cfg.verifier.keep_best else None
        result = fit_stage(stage_cfg, module, data, out, keep_best=keep_best)
        folder, steps_done = result.hf_dir, steps_done + result.global_step
        # How to read it as a verifier: every rank writes the same bytes before it names the folder's weights
        if stage.kind == "verifier":
            save_verifier(module, folder)
        else:
            save_verifier_spec(cfg, folder)
        # The next stage starts from the saved full weights, not the in-memory (possibly sharded) module.
        model = build_model(OmegaConf.merge(cfg.model, {"path": str(folder)}), tokenizer)
        folders.append(folder)
    control = None
    if cfg.multitask.sft_control:
        steps = sum(stage_steps(cfg, s.kind, s.max_steps) for s in cfg.multitask.stages if s.kind == "generator")
        L.seed_everything(cfg.seed, workers=True)
        control_cfg = with_steps(cfg, steps)
        control = fit_stage(control_cfg, *sft_parts(control_cfg, tokenizer, splits), run_dir / "sft_control").hf_dir
    trained = Trained(tokenizer, folders, control, splits.test, steps_done, splits.report)
    for name, folder in tested(trained).items():  # every rank samples its share of each model's test solutions
        policy = sft_policy if name == "sft" and sft_policy else Policy(cfg, tokenizer, folder=folder)
        sample_test(cfg, policy, splits.test, run_dir / "test" / name, n=cfg.eval.n)
        policy.close()
    return trained


def report(cfg: DictConfig, trained: Trained) -> Report:
    """Greedy, then eval.n samples re-ranked with each model as its own verifier (token head)."""
    metrics: dict = {"stages": [str(f) for f in trained.folders]}
    for name, folder in tested(trained).items():
        policy = Policy(cfg, trained.tokenizer, folder=folder)  # its samples on disk: nothing starts
        out_dir = Path(cfg.run_dir) / "test" / name
        rerank = TrainedVerifier(folder, cfg, out_dir / "checks") if name != "sft_control" else None
        metrics[name] = evaluate(cfg, policy, trained.test, out_dir, n=cfg.eval.n, rerank=rerank)
        policy.close()
    summary = "\n".join(f"{name} model as its own verifier:\n{table(metrics[name])}" for name in ("sft", "multitask"))
    if trained.sft_control is not None:
        summary += f"\nSFT only, as many generation steps as multitask:\n{table(metrics['sft_control'])}"
    rerank = metrics["multitask"]["rerank"]
    # The headline: the final model, its last stage's losses, the steps of all stages.
    stage = training_figures(trained.folders[-1].parent, trained.steps, trained.data_report)
    figures = merge(stage, accuracy_figures(metrics["multitask"]))
    return Report(metrics, summary, rerank[f"cluster@{rerank['n']}"], figures)
