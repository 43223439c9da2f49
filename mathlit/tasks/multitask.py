"""Multi-task sequential fine-tuning (Liu et al. 2023): one backbone learns to generate and to evaluate.

    python -m mathlit task=multitask                       # tiny LLaMA on arith, CPU
    python -m mathlit task=multitask model=llama2_7b model.path=/models/Llama-2-7b-hf data=gsm8k

Stages from multitask.stages (default generate -> evaluate -> generate), each a Lightning run starting from
the previous stage's weights:
- generate: SFT on the reference solutions;
- evaluate: verifier training with the token head (the model's own "correct"/"incorrect" logits), on
  candidates the current model samples for the training questions; verifier.lm_weight keeps the
  generation loss on correct solutions as a regulariser.
Then, on the test split, the plain SFT model (the first generate stage) and the final model: greedy,
maj@N, and re-ranking with each model as its own verifier (best-of-N, weighted vote, cluster re-ranking).
"""

from pathlib import Path

import lightning as L
from lightning.pytorch.utilities import rank_zero_only
from omegaconf import DictConfig, OmegaConf

from mathlit.data.splits import Splits, load_splits
from mathlit.data.verifier import eval_template
from mathlit.errors import ConfigError
from mathlit.evaluate import rerank_report, rerank_table, sample_test
from mathlit.io import write_json
from mathlit.models.build import build_model, load_tokenizer
from mathlit.modules.verifier import save_verifier
from mathlit.tasks.verifier import candidates
from mathlit.training import fit_stage, sft_parts, verifier_parts, with_steps


def evaluate_model(cfg: DictConfig, tokenizer, folder: Path, test: list, out_dir: Path) -> dict:
    """Greedy, then eval.n samples re-ranked with the model as its own verifier (token head)."""
    greedy = sample_test(cfg, tokenizer, folder, test, out_dir / "greedy", 1, 0.0)
    accuracy = sum(r["correct"] for r in greedy) / len(greedy)
    sampled = sample_test(cfg, tokenizer, folder, test, out_dir / "sampled", cfg.eval.n, cfg.eval.temperature)
    return rerank_report(sampled, folder, cfg, out_dir, accuracy)


def save_verifier_spec(cfg: DictConfig, folder: Path) -> None:
    """How to read a plain generator folder as a token-head verifier."""
    write_json(
        folder / "verifier.json",
        {
            "head": "token",
            "prompt_template": eval_template(cfg),
            "yes_word": cfg.verifier.yes_word,
            "no_word": cfg.verifier.no_word,
        },
    )


def run(cfg: DictConfig) -> float | None:
    kinds = [s.kind for s in cfg.multitask.stages]
    if not kinds or kinds[0] != "generate":
        raise ConfigError(f"multitask.stages must start with generate, got {[str(k) for k in kinds]}")
    if cfg.verifier.head != "token":
        raise ConfigError("task=multitask needs verifier.head=token: one backbone both generates and evaluates")
    run_dir = Path(cfg.run_dir)
    tokenizer = load_tokenizer(cfg.model)
    splits = load_splits(cfg.data)
    verifier_splits = Splits(splits.train[: cfg.verifier.max_questions], splits.val, [], {})
    model, folders = None, []
    for i, stage in enumerate(cfg.multitask.stages, start=1):
        steps = stage.max_steps if stage.max_steps or stage.kind == "generate" else cfg.verifier.max_steps
        stage_cfg, out = with_steps(cfg, steps), run_dir / f"stage{i}_{stage.kind}"
        L.seed_everything(cfg.seed, workers=True)
        if stage.kind == "generate":
            module, data = sft_parts(stage_cfg, tokenizer, splits, model)
        else:
            train, val = candidates(cfg, tokenizer, folders[-1], verifier_splits, out / "candidates")
            module, data = verifier_parts(stage_cfg, tokenizer, train, val, verifier_splits, model)
        folder = fit_stage(stage_cfg, module, data, out).hf_dir
        if stage.kind == "evaluate":
            save_verifier(module, folder)
        # The next stage starts from the saved full weights, not the in-memory (possibly sharded) module.
        model = build_model(OmegaConf.merge(cfg.model, {"path": str(folder)}), tokenizer)
        folders.append(folder)
    if rank_zero_only.rank != 0:
        return None

    results = {}
    for name, folder in (("sft", folders[0]), ("multitask", folders[-1])):
        save_verifier_spec(cfg, folder)
        results[name] = evaluate_model(cfg, tokenizer, folder, splits.test, run_dir / "test" / name)
    write_json(run_dir / "metrics.json", {"stages": [str(f) for f in folders], **results})
    print(
        "\n".join(
            f"mathlit multitask, {name} model as its own verifier:\n{rerank_table(summary)}"
            for name, summary in results.items()
        )
        + f"\noutputs in {run_dir}",
        flush=True,
    )
    n = results["multitask"]["n"]
    return results["multitask"][f"cluster@{n}"]
