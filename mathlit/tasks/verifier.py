"""Verifier training and re-ranking (Liu et al. 2023, "Improving LLM Fine-tuning for Solving Math Problems").

    python -m mathlit task=verifier                                  # tiny LLaMA on arith, pointwise, CPU
    python -m mathlit task=verifier verifier=pairwise verifier.generator_path=OUT/sft/hf

1. a generator: verifier.generator_path, or an SFT stage first;
2. candidates: verifier.samples_per_question samples per training question (and per validation question),
   labelled correct/incorrect by answer checking;
3. the verifier: pointwise (cross-entropy) or pairwise (Bradley-Terry or margin) from the generator's weights,
   head=token (the LM's "correct"/"incorrect" logits) or scalar, the label predicted at the last token or
   at every token (verifier.objective); validated by AUROC, accuracy, best-of-N, the best AUROC's weights kept;
4. on the test split: greedy, and eval.n samples per problem from the generator (the sampler of step 2,
   paused while the verifier trains; every rank samples its share), re-ranked by the verifier (global rank 0):
   maj@k, best-of-k, verifier-weighted vote, solution-cluster re-ranking and pass@k side by side, against
   greedy, and the same re-ranked by the generator's own likelihood and by a calculator's check of the
   annotations (the baselines a verifier must beat). metrics.json: `evaluation.evaluate`'s metrics ("rerank",
   "rerank_likelihood", "rerank_calculations") and the verifier's training data counts.
"""

from pathlib import Path
from typing import NamedTuple

import lightning as L
from omegaconf import DictConfig, OmegaConf

from mathlit.data.splits import Splits, load_splits
from mathlit.datagen.rationales import check_rationales, teacher_checks
from mathlit.datagen.rollouts import check_process_labels
from mathlit.datagen.verifier import candidates
from mathlit.evaluation import evaluate, sample_test, table
from mathlit.headline import accuracy_figures, merge, training_figures
from mathlit.models.build import build_model, load_tokenizer
from mathlit.modules.verifier import save_verifier
from mathlit.rerankers import TrainedVerifier
from mathlit.sampling.policy import Policy
from mathlit.startup import check_training
from mathlit.tasks import Report
from mathlit.training import fit_stage, sft_parts, stage_steps, verifier_parts, with_steps


class Trained(NamedTuple):
    generator: Policy  # its candidates and test solutions sampled (its sampler closed): named by its digest
    verifier_dir: Path
    splits: Splits
    training_data: dict
    verifier_steps: int


def check(cfg: DictConfig) -> None:
    check_training(cfg)
    check_process_labels(cfg.verifier)
    check_rationales(cfg)


def train(cfg: DictConfig) -> Trained:
    run_dir = Path(cfg.run_dir)
    tokenizer = load_tokenizer(cfg.model)
    splits = load_splits(cfg.data)
    splits.train = splits.train[: cfg.verifier.max_questions]
    L.seed_everything(cfg.seed, workers=True)
    if cfg.verifier.generator_path:
        generator_dir = Path(cfg.verifier.generator_path)
    else:
        generator_dir = fit_stage(cfg, *sft_parts(cfg, tokenizer), run_dir / "generator").hf_dir

    generator = Policy(cfg, tokenizer, folder=generator_dir)
    train_records, val_records = candidates(cfg, generator, splits, run_dir / "candidates")
    generator.pause()
    teacher = teacher_checks(cfg, tokenizer, train_records, val_records, splits, run_dir / "teacher")
    L.seed_everything(cfg.seed, workers=True)
    start = (
        build_model(OmegaConf.merge(cfg.model, {"path": str(generator_dir)}), tokenizer)
        if cfg.verifier.init == "generator"
        else None
    )
    stage_cfg = with_steps(cfg, stage_steps(cfg, "verifier"))
    module, data = verifier_parts(stage_cfg, tokenizer, train_records, val_records, splits, start, teacher)
    keep_best = "val/auroc" if cfg.verifier.keep_best else None
    stage = fit_stage(stage_cfg, module, data, run_dir / "verifier", keep_best=keep_best)
    verifier_dir = save_verifier(module, stage.hf_dir)
    # The generator's test solutions, every rank its share (its sampler closed then: the verifier scores next)
    sample_test(cfg, generator, splits.test, run_dir / "test", n=cfg.eval.n)
    generator.close()
    return Trained(generator, verifier_dir, splits, data.splits.report, stage.global_step)


def report(cfg: DictConfig, trained: Trained) -> Report:
    test_dir = Path(cfg.run_dir) / "test"
    rerank = TrainedVerifier(trained.verifier_dir, cfg, test_dir / "checks")
    metrics = evaluate(cfg, trained.generator, trained.splits.test, test_dir, n=cfg.eval.n, rerank=rerank)
    metrics["verifier_training"] = trained.training_data
    rerank, n = metrics["rerank"], metrics["rerank"]["n"]
    v = cfg.verifier
    summary = f"{v.loss} verifier, objective={v.objective}, head={v.head}\n{table(metrics)}"
    # The headline: the verifier stage's training, the generator's test accuracy and its re-ranking.
    stage = training_figures(Path(cfg.run_dir) / "verifier", trained.verifier_steps, trained.training_data)
    figures = merge(stage, accuracy_figures(metrics))
    return Report(metrics, summary, max(rerank[f"best_of@{n}"], rerank[f"cluster@{n}"]), figures)
