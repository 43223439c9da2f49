"""Verifier training and re-ranking (Liu et al. 2023, "Improving LLM Fine-tuning for Solving Math Problems").

    python -m mathlit task=verifier                                  # tiny LLaMA on arith, pointwise, CPU
    python -m mathlit task=verifier verifier=pairwise verifier.generator_path=OUT/sft/hf

1. a generator: verifier.generator_path, or an SFT stage first;
2. candidates: verifier.samples_per_question samples per training question (and per validation question),
   labelled correct/incorrect by answer checking;
3. the verifier: pointwise (cross-entropy) or pairwise (Bradley-Terry or margin) from the generator's weights,
   head=token (the LM's "correct"/"incorrect" logits) or scalar; validated by AUROC, accuracy, best-of-N;
4. on the test split: eval.n samples per problem from the generator, re-ranked by the verifier: maj@k,
   best-of-k, verifier-weighted vote, solution-cluster re-ranking and pass@k side by side, against greedy.
"""

from pathlib import Path

import lightning as L
from lightning.pytorch.utilities import rank_zero_only
from omegaconf import DictConfig, OmegaConf

from mathlit.data.splits import load_splits
from mathlit.evaluate import rerank_report, rerank_table, sample_test
from mathlit.io import write_json
from mathlit.models.build import build_model, load_tokenizer
from mathlit.modules.verifier import save_verifier
from mathlit.training import fit_stage, sft_parts, verifier_parts, with_steps


def candidates(cfg: DictConfig, tokenizer, generator_dir: Path, splits, out_dir: Path) -> tuple[list, list]:
    """Graded samples of the training questions (first verifier.max_questions) and of the validation questions."""
    v = cfg.verifier
    sample_cfg = OmegaConf.merge(cfg, {"eval": {"top_p": 1.0}, "sampler": {"max_new_tokens": v.max_new_tokens}})
    train = sample_test(
        sample_cfg, tokenizer, generator_dir, splits.train, out_dir / "train", v.samples_per_question, v.temperature
    )
    val = (
        sample_test(
            sample_cfg, tokenizer, generator_dir, splits.val, out_dir / "val", v.samples_per_question, v.temperature
        )
        if splits.val
        else []
    )
    return train, val


def run(cfg: DictConfig) -> float | None:
    run_dir = Path(cfg.run_dir)
    tokenizer = load_tokenizer(cfg.model)
    splits = load_splits(cfg.data)
    splits.train = splits.train[: cfg.verifier.max_questions]
    L.seed_everything(cfg.seed, workers=True)
    if cfg.verifier.generator_path:
        generator_dir = Path(cfg.verifier.generator_path)
    else:
        generator_dir = fit_stage(cfg, *sft_parts(cfg, tokenizer), run_dir / "generator").hf_dir

    train_records, val_records = candidates(cfg, tokenizer, generator_dir, splits, run_dir / "candidates")
    L.seed_everything(cfg.seed, workers=True)
    start = (
        build_model(OmegaConf.merge(cfg.model, {"path": str(generator_dir)}), tokenizer)
        if cfg.verifier.init == "generator"
        else None
    )
    stage_cfg = with_steps(cfg, cfg.verifier.max_steps)
    module, data = verifier_parts(stage_cfg, tokenizer, train_records, val_records, splits, start)
    verifier_dir = save_verifier(module, fit_stage(stage_cfg, module, data, run_dir / "verifier").hf_dir)
    if rank_zero_only.rank != 0:
        return None

    greedy = sample_test(cfg, tokenizer, generator_dir, splits.test, run_dir / "test" / "greedy", 1, 0.0)
    greedy_accuracy = sum(r["correct"] for r in greedy) / len(greedy)
    sampled = sample_test(
        cfg, tokenizer, generator_dir, splits.test, run_dir / "test" / "sampled", cfg.eval.n, cfg.eval.temperature
    )
    summary = rerank_report(sampled, verifier_dir, cfg, run_dir / "test", greedy_accuracy)
    summary["verifier_training"] = data.splits.report
    write_json(run_dir / "metrics.json", summary)
    print(
        f"mathlit verifier ({cfg.verifier.name}, head={cfg.verifier.head}):\n{rerank_table(summary)}\n"
        f"outputs in {run_dir}",
        flush=True,
    )
    n = summary["n"]
    return max(summary[f"best_of@{n}"], summary[f"cluster@{n}"])
