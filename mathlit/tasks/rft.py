"""Rejection-sampling fine-tuning (Yuan et al. 2023, "Scaling Relationship on Learning Mathematical Reasoning").

    python -m mathlit task=rft                                   # tiny LLaMA on arith, CPU
    python -m mathlit task=rft model=llama2_7b model.path=/models/Llama-2-7b-hf data=gsm8k
    python -m mathlit task=rft rft.sft_path=OUT/sft/hf rft.sources=[A/samples.jsonl,B/hf]   # union (RFT-U13B)

1. SFT on the original data (or start from rft.sft_path);
2. sample rft.k paths per training question (sampler=vllm or hf) with the SFT weights; rft.strategy=prop2diff
   samples again the questions short of a target of correct paths that grows with their failure rate (DART-Math);
3. keep correct paths whose calculations hold, deduplicated to distinct reasoning paths (equation lists),
   pooled with rft.sources (union across models);
4. fine-tune from the base model (rft.init=base, or sft) on original + selected paths;
5. greedy accuracy of each stage on the test split. rft.rounds=N repeats 2-5 with the newest model.
rft.every_n_epochs=E samples inside the stages that sample (SFT and every round but the last) at the end of
every E-th epoch instead: their next epochs train on their own data plus the newest paths (iterative RFT),
and the next stage gets the last of them.
Outputs per stage in <run_dir>/<stage>/ (hf/, checkpoints/, test/greedy/), per round in
<run_dir>/rft/<round>/ (samples/, augmented.jsonl, report.json, distinct_paths.png), and metrics.json
("stages": one row per stage).
"""

from dataclasses import replace
from pathlib import Path

import lightning as L
from omegaconf import DictConfig, OmegaConf

from callbacks.rft_data import RFTDataCallback
from mathlit.data.splits import load_splits
from mathlit.datagen.rft import RFTDataGenerator
from mathlit.evaluation import evaluate, sampler_for
from mathlit.headline import accuracy_figures, merge, training_figures
from mathlit.models.build import build_model, load_tokenizer
from mathlit.tasks import Report
from mathlit.training import fit_stage, sft_parts


def table(rows: list[dict]) -> str:
    lines = [f"  {'stage':<8}{'train ex.':>10}{'greedy acc.':>13}{'coverage':>10}{'paths/q':>9}{'accepted':>10}"]
    for row in rows:
        data = row.get("rft_data") or {}
        coverage = f"{100 * data['coverage']:.1f}%" if data else "-"
        paths = f"{data['distinct_paths_mean']:.2f}" if data else "-"
        lines.append(
            f"  {row['stage']:<8}{row['train_examples']:>10}{100 * row['greedy_accuracy']:>12.1f}%"
            f"{coverage:>10}{paths:>9}{data.get('accepted', '-'):>10}"
        )
    return "\n".join(lines)


def train(cfg: DictConfig) -> list[dict]:
    """The stages, each row with its test accuracy (measured where the trained weights are gathered)."""
    run_dir = Path(cfg.run_dir)
    tokenizer = load_tokenizer(cfg.model)
    splits = load_splits(cfg.data)
    generator = RFTDataGenerator(cfg, tokenizer, splits.train[: cfg.rft.max_questions], run_dir / "rft")
    rows: list[dict] = []

    def weights(folder: Path):
        return build_model(OmegaConf.merge(cfg.model, {"path": str(folder)}), tokenizer)

    def stage(name: str, train: list, start_model, next_round: str | None):
        """Train from `start_model` (None: the base) on `train`; sample the next round at the end."""
        L.seed_everything(cfg.seed, workers=True)  # "base" = the same initial weights as the SFT stage
        module, data = sft_parts(cfg, tokenizer, replace(splits, train=train, report=dict(splits.report)), start_model)
        callback = RFTDataCallback(generator, next_round, cfg.rft.every_n_epochs) if next_round else None
        result = fit_stage(cfg, module, data, run_dir / name, callbacks=[callback] if callback else [])
        row = {"stage": name, "train_examples": len(train), "model": str(result.hf_dir), "steps": result.global_step}
        if result.model is not None:  # global rank 0: greedy accuracy of the weights in memory
            sampler = sampler_for(cfg, tokenizer, model=result.model)
            row.update(evaluate(cfg, sampler, splits.test, run_dir / name / "test", source=result.source))
        return (callback.augmented, callback.report) if callback else None, row

    if cfg.rft.sft_path:  # sample with a given SFT model, no SFT stage
        sft_folder = Path(cfg.rft.sft_path)
        _, data = generator.generate(weights(sft_folder), "sft", "round1", folder=sft_folder)
        round_data = (data.augmented, data.report)
    else:
        sft_folder = run_dir / "sft" / "hf"
        round_data, row = stage("sft", splits.train, None, "round1")
        rows.append(row)

    for r in range(1, cfg.rft.rounds + 1):
        start = None if cfg.rft.init == "base" else weights(sft_folder)
        augmented, report = round_data
        next_round = f"round{r + 1}" if r < cfg.rft.rounds else None
        round_data, row = stage(f"rft{r}", splits.train + augmented, start, next_round)
        rows.append(row | {"rft_data": report})
    generator.close()
    return rows


def report(cfg: DictConfig, rows: list[dict]) -> Report:
    final = rows[-1]  # the headline: the last stage
    stage = training_figures(Path(cfg.run_dir) / final["stage"], final["steps"], {"train": final["train_examples"]})
    figures = merge(stage, accuracy_figures(final))
    return Report({"stages": rows}, f"{len(rows)} stages\n{table(rows)}", final["greedy_accuracy"], figures)
