"""The `headline` block of every metrics.json: the same few fields whatever the task, so that a sweep
report (task=report) reads any run. A task gives its own figures (`figures`); the rest comes from the config.

    {"task", "model": {name, path}, "data": {name, path, train_fraction, train, val, test}, "seed", "steps",
     "accuracy": {greedy_accuracy, pass@N, maj@N, pass_ratio, ...}, "ci95": {same keys: [low, high]},
     "loss": {"train/loss": final, "val/loss": final}, "sampling": {n, temperature, top_p, max_new_tokens}}
with n the samples per problem behind pass@N and maj@N (0: greedy only).
"""

import csv
from pathlib import Path

from omegaconf import DictConfig

RERANK_FIGURES = ("best_of", "weighted", "cluster")


def accuracy_figures(metrics: dict) -> dict:
    """The main accuracy figures of `evaluation.evaluate`'s metrics and their intervals: greedy, pass@N, maj@N,
    PassRatio@N, the re-ranking methods at N, and the single-step accuracy p of acc = p^s."""
    accuracy, ci95 = {}, {}
    if "greedy_accuracy" in metrics:
        accuracy["greedy_accuracy"] = metrics["greedy_accuracy"]
        ci95["greedy_accuracy"] = metrics.get("greedy_ci95")
    for part, names in (("sampled", ("pass", "maj")), ("rerank", RERANK_FIGURES)):
        if summary := metrics.get(part):
            keys = [f"{name}@{summary['n']}" for name in names] + (["pass_ratio"] if part == "sampled" else [])
            accuracy |= {key: summary[key] for key in keys}
            ci95 |= {key: summary["ci95"][key] for key in keys}
    if steps := metrics.get("reasoning_steps"):
        accuracy["single_step_p"], ci95["single_step_p"] = steps["p"], steps["p_ci95"]
    sampled = metrics.get("sampled", {})
    problems = metrics.get("problems", sampled.get("problems"))
    return {"accuracy": accuracy, "ci95": ci95, "data": {"test": problems}, "sampling": {"n": sampled.get("n", 0)}}


def final_losses(stage_dir: str | Path) -> dict[str, float]:
    """The last logged value of every `*loss` column of the stage's CSV log (the newest logs/version_<n>,
    the one a resumed run finished in); empty without a CSV log."""
    versions = sorted(Path(stage_dir).glob("logs/version_*/metrics.csv"), key=lambda p: int(p.parent.name[8:]))
    if not versions:
        return {}
    with open(versions[-1], encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    columns = [c for c in (rows[0] if rows else {}) if c.endswith("loss")]
    return {c: float(values[-1]) for c in columns if (values := [r[c] for r in rows if r[c] not in ("", None)])}


def training_figures(stage_dir: str | Path, steps: int, data_report: dict) -> dict:
    """A training stage's optimizer steps, final losses and split sizes."""
    sizes = {key: data_report[key] for key in ("train", "val", "test") if key in data_report}
    return {"steps": steps, "loss": final_losses(stage_dir), "data": sizes}


def headline(cfg: DictConfig, figures: dict) -> dict:
    """The block: the run's settings from `cfg`, and the task's `figures` (accuracy_figures, training_figures)."""
    block = {
        "task": str(cfg.task.name),
        "model": {"name": cfg.model.name, "path": cfg.model.path},
        "data": {"name": cfg.data.name, "path": cfg.data.path, "train_fraction": cfg.data.train_fraction},
        "seed": cfg.seed,
        "steps": None,
        "accuracy": {},
        "ci95": {},
        "loss": {},
        "sampling": {"n": 0},
    }
    block = merge(block, figures)
    if block["sampling"]["n"]:  # the settings of the N samples per problem (eval's unless the task gave its own)
        block["sampling"] = {"temperature": cfg.eval.temperature, "top_p": cfg.eval.top_p} | block["sampling"]
    block["sampling"]["max_new_tokens"] = cfg.sampler.max_new_tokens
    return block


def merge(*parts: dict) -> dict:
    """Headline parts merged one level deep: later parts win, dicts (data, loss, accuracy) are united."""
    block: dict = {}
    for part in parts:
        for key, value in part.items():
            block[key] = block[key] | value if isinstance(block.get(key), dict) and isinstance(value, dict) else value
    return block
