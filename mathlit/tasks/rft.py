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
5. greedy accuracy of each stage on the test split (every rank samples its share). rft.rounds=N repeats 2-5
   with the newest model.
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
from lightning.pytorch.utilities import rank_zero_only
from omegaconf import DictConfig, OmegaConf

from callbacks.rft_data import RFTDataCallback
from mathlit.data.splits import Splits, load_splits
from mathlit.datagen.filters import RFTData
from mathlit.datagen.rft import RFTDataGenerator
from mathlit.evaluation import evaluate, sample_test
from mathlit.headline import accuracy_figures, merge, training_figures
from mathlit.models.build import build_model, load_tokenizer
from mathlit.sampling.ranks import join_launched_ranks
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
    tokenizer = load_tokenizer(cfg.model)
    splits = load_splits(cfg.data)
    generator = RFTDataGenerator(cfg, tokenizer, splits.train[: cfg.rft.max_questions], Path(cfg.run_dir) / "rft")
    rows: list[dict] = []
    if cfg.rft.sft_path:  # sample with a given SFT model, no SFT stage
        sft_folder = Path(cfg.rft.sft_path)
        ranks = join_launched_ranks(cfg.trainer.collective_timeout_s)  # torchrun, srun: all sample, before any fit
        weights = load_weights(cfg, tokenizer, sft_folder)
        _, data = generator.generate(weights, "sft", "round1", folder=sft_folder, ranks=ranks)
    else:
        sft_folder = Path(cfg.run_dir) / "sft" / "hf"
        row, data = train_stage(cfg, tokenizer, splits, "sft", splits.train, generator, samples="round1")
        rows.append(row)
    for r in range(1, cfg.rft.rounds + 1):
        start = None if cfg.rft.init == "base" else load_weights(cfg, tokenizer, sft_folder)
        samples = f"round{r + 1}" if r < cfg.rft.rounds else None  # the last round samples nothing
        augmented = splits.train + data.augmented
        row, next_data = train_stage(cfg, tokenizer, splits, f"rft{r}", augmented, generator, samples, start)
        rows.append(row | {"rft_data": data.report})
        data = next_data
    generator.close()
    return rows


def train_stage(
    cfg: DictConfig,
    tokenizer,
    splits: Splits,
    name: str,
    train: list,
    generator: RFTDataGenerator,
    samples: str | None,
    start_model=None,
) -> tuple[dict, RFTData | None]:
    """Stage `name`: train from `start_model` (None: the base) on `train`, and its greedy test accuracy with
    the generator's sampler; with `samples`, the data of that round sampled with the stage's weights."""
    L.seed_everything(cfg.seed, workers=True)  # "base" = the same initial weights as the SFT stage
    module, data = sft_parts(cfg, tokenizer, replace(splits, train=train, report=dict(splits.report)), start_model)
    callback = RFTDataCallback(generator, samples, cfg.rft.every_n_epochs) if samples else None
    out_dir = Path(cfg.run_dir) / name
    result = fit_stage(cfg, module, data, out_dir, callbacks=[callback] if callback else [])
    row = {"stage": name, "train_examples": len(train), "model": str(result.hf_dir), "steps": result.global_step}
    # The test problems through the run's one Policy: every rank samples its share with the weights it holds (or,
    # sharded, hf_dir), as the round's paths (sampler=vllm: each rank's engine); global rank 0 scores them.
    policy = generator.policy
    policy.load(result.model, f"{name}@{result.global_step}", result.hf_dir)
    sample_test(cfg, policy, splits.test, out_dir / "test")
    if rank_zero_only.rank == 0:
        row.update(evaluate(cfg, policy, splits.test, out_dir / "test"))
    policy.pause()
    return row, RFTData(callback.augmented, callback.report) if callback else None


def load_weights(cfg: DictConfig, tokenizer, folder: Path):
    return build_model(OmegaConf.merge(cfg.model, {"path": str(folder)}), tokenizer)


def report(cfg: DictConfig, rows: list[dict]) -> Report:
    final = rows[-1]  # the headline: the last stage
    stage = training_figures(Path(cfg.run_dir) / final["stage"], final["steps"], {"train": final["train_examples"]})
    figures = merge(stage, accuracy_figures(final))
    return Report({"stages": rows}, f"{len(rows)} stages\n{table(rows)}", final["greedy_accuracy"], figures)
