"""Sweep reports: many run folders (a Hydra multirun folder, or any list of run folders) -> one table and fits.

Each run is read from its `metrics.json` headline (mathlit.headline) and its `.hydra/overrides.yaml`; the swept
keys are the overrides whose values differ between runs. Runs are grouped by the swept keys other than `seed`:
a group's figure is the mean over its runs with a bootstrap interval over them (seeds); a group of one run shows
that run's own interval over problems. When the amount of training data varies (`headline.data.train`, the
examples trained on, set by data.train_fraction or data.max_train_examples), every accuracy figure is fitted as
a + b * log2(examples) per series (the groups that differ only in the data amount), with bootstrap intervals
over runs (mathlit.metrics.scaling).

Writes sweep.csv (one row per run), sweep.md (groups and fits), sweep.json and one PNG per accuracy figure.
"""

import csv
import io
import json
import logging
import math
from dataclasses import asdict, dataclass
from pathlib import Path

from omegaconf import OmegaConf

from mathlit.errors import ConfigError, DataError
from mathlit.io import atomic_write_text, write_json
from mathlit.metrics.intervals import mean_interval
from mathlit.metrics.plots import plot_sweep
from mathlit.metrics.scaling import fit_log_linear

log = logging.getLogger(__name__)
DATA_KEYS = ("data.train_fraction", "data.max_train_examples", "data.arith.num_train")  # set the data amount
SEED_KEY = "seed"


@dataclass(frozen=True)
class Run:
    folder: Path
    overrides: dict[str, str]
    headline: dict


def read_overrides(folder: Path) -> dict[str, str]:
    """key -> value of a Hydra job's command-line overrides ({} for a run without .hydra/)."""
    path = folder / ".hydra" / "overrides.yaml"
    if not path.exists():
        return {}
    overrides = {}
    for item in OmegaConf.to_container(OmegaConf.load(path)):
        key, _, value = str(item).partition("=")
        key = key.lstrip("+~")
        if not key.startswith("hydra"):
            overrides[key] = value
    return overrides


def read_run(folder: Path) -> Run:
    path = folder / "metrics.json"
    try:
        metrics = json.loads(path.read_bytes())
    except (OSError, ValueError) as e:  # cut short, garbage, not UTF-8, unreadable
        raise DataError(f"{path}: not readable as JSON ({getattr(e, 'msg', None) or e})") from None
    if not isinstance(metrics, dict) or not isinstance(metrics.get("headline"), dict):
        raise DataError(f"{path}: no headline block (a run of an older mathlit? rerun it to rewrite metrics.json)")
    return Run(folder, read_overrides(folder), metrics["headline"])


def find_runs(paths: list[str | Path], unreadable: list[str] | None = None) -> tuple[list[Run], list[Path]]:
    """The runs under `paths` (each a run folder or a folder of runs, searched recursively), and the Hydra jobs
    among them that left no metrics.json (failed or unfinished). Sweep reports (task=report) are not runs.

    A run whose metrics.json cannot be read raises DataError naming it; with an `unreadable` list, its message is
    appended there instead (a warning line each) and the other runs are reported, unless none is readable."""
    runs, unfinished, skipped = [], [], []
    for path in map(Path, paths):
        if not path.is_dir():
            raise ConfigError(f"{path}: no such folder (set by report.dir)")
        folders = [path] if (path / "metrics.json").exists() else sorted(p.parent for p in path.rglob("metrics.json"))
        for folder in folders:
            try:
                run = read_run(folder)
            except DataError as e:
                if unreadable is None:
                    raise
                skipped.append(str(e))
                continue
            if run.headline["task"] != "report":
                runs.append(run)
        jobs = (p.parent.parent for p in path.rglob(".hydra/overrides.yaml"))
        unfinished += sorted(job for job in jobs if not (job / "metrics.json").exists())
    if skipped and not runs:
        raise DataError(skipped[0])
    if not runs:
        raise ConfigError(f"no run folders with a metrics.json under {[str(p) for p in paths]} (set by report.dir)")
    for message in skipped:
        log.warning("left out of the report: %s", message)
    if unreadable is not None:
        unreadable += skipped
    return runs, unfinished


def swept_keys(runs: list[Run]) -> list[str]:
    keys = sorted({key for run in runs for key in run.overrides})
    return [key for key in keys if len({run.overrides.get(key) for run in runs}) > 1]


def flatten(block: dict, prefix: str = "") -> dict:
    """{"a": {"b": 1}, "ci": [0, 1]} -> {"a.b": 1, "ci.low": 0, "ci.high": 1}: one CSV column per number."""
    flat = {}
    for key, value in block.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat |= flatten(value, f"{name}.")
        elif isinstance(value, list) and len(value) == 2:
            flat |= {f"{name}.low": value[0], f"{name}.high": value[1]}
        else:
            flat[name] = value
    return flat


def _number(value: str) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _sort_key(values: tuple) -> tuple:
    return tuple((0, n, "") if (n := _number(v)) is not None else (1, 0.0, str(v)) for v in values)


def group_runs(runs: list[Run], keys: list[str]) -> dict[tuple, list[Run]]:
    groups: dict[tuple, list[Run]] = {}
    for run in runs:
        groups.setdefault(tuple(run.overrides.get(key) for key in keys), []).append(run)
    return dict(sorted(groups.items(), key=lambda item: _sort_key(item[0])))


def figure_names(runs: list[Run]) -> list[str]:
    """The accuracy figures every run reports."""
    names = [name for name in runs[0].headline["accuracy"]]
    return [name for name in names if all(name in run.headline["accuracy"] for run in runs)]


def summarize_group(runs: list[Run], figures: list[str]) -> dict:
    row: dict = {"runs": len(runs), "train": runs[0].headline["data"].get("train"), "figures": {}}
    for name in figures:
        values = [run.headline["accuracy"][name] for run in runs]
        mean = sum(values) / len(values)
        # Several runs (seeds): the interval over runs; one run: its own interval over problems.
        interval = mean_interval(values) if len(values) > 1 else runs[0].headline["ci95"].get(name)
        sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1)) if len(values) > 1 else None
        row["figures"][name] = {"mean": mean, "sd": sd, "ci95": interval}
    return row


def fit_series(runs: list[Run], keys: list[str], figures: list[str]) -> dict[str, dict]:
    """Per series (groups differing only in the data amount) and figure: the log-linear fit against the number
    of training examples, where at least two amounts were run."""
    series_keys = [key for key in keys if key not in DATA_KEYS]
    fits: dict[str, dict] = {}
    for values, members in group_runs(runs, series_keys).items():
        amounts = [run.headline["data"].get("train") for run in members]
        if None in amounts or len(set(amounts)) < 2:
            continue
        name = ", ".join(f"{k}={v}" for k, v in zip(series_keys, values, strict=True)) or "all runs"
        fits[name] = {
            figure: asdict(fit_log_linear(amounts, [run.headline["accuracy"][figure] for run in members]))
            for figure in figures
        }
    return fits


def _interval(figure: dict) -> str:
    low, high = figure["ci95"] or (math.nan, math.nan)
    return f"{100 * figure['mean']:.1f} [{100 * low:.1f}, {100 * high:.1f}]"


def markdown(keys: list[str], groups: dict[tuple, dict], fits: dict, figures: list[str]) -> str:
    header = [*keys, "runs", "train examples", *figures]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for values, row in groups.items():
        cells = [*map(str, values), str(row["runs"]), str(row["train"]), *map(_interval, row["figures"].values())]
        lines.append("| " + " | ".join(cells) + " |")
    lines.append(
        "\nAccuracy in %, mean [95% interval]: bootstrap over a group's runs (seeds); a group of one run shows its "
        "own bootstrap interval over test problems."
    )
    if fits:
        lines += [
            "\nLog-linear fits, accuracy = intercept + slope * log2(train examples) (points %, intervals: "
            "bootstrap over runs):\n",
            "| series | figure | slope per doubling | intercept | R^2 | runs |",
            "|---|---|---|---|---|---|",
        ]
        for series, by_figure in fits.items():
            for figure, fit in by_figure.items():
                slope = f"{100 * fit['slope']:.2f} [{100 * fit['slope_ci'][0]:.2f}, {100 * fit['slope_ci'][1]:.2f}]"
                low, high = fit["intercept_ci"]
                intercept = f"{100 * fit['intercept']:.1f} [{100 * low:.1f}, {100 * high:.1f}]"
                r2 = "-" if fit["r2"] is None else f"{fit['r2']:.3f}"
                lines.append(f"| {series} | {figure} | {slope} | {intercept} | {r2} | {fit['points']} |")
    return "\n".join(lines) + "\n"


def plot_figures(keys: list[str], groups: dict[tuple, dict], fits: dict, figures: list[str], out_dir: Path) -> list:
    """accuracy against training examples (log2) per series with its fit; else against the one swept key."""
    series_keys = [key for key in keys if key not in DATA_KEYS]
    numeric_x = len(keys) == 1 and all(_number(values[0]) is not None for values in groups)
    if not fits and not numeric_x:
        return []
    paths = []
    for figure in figures:
        lines: dict[str, dict] = {}
        for values, row in groups.items():
            named = dict(zip(keys, values, strict=True))
            name = ", ".join(f"{k}={named[k]}" for k in series_keys) if fits else figure
            x = row["train"] if fits else _number(values[0])
            line = lines.setdefault(name or "all runs", {"x": [], "mean": [], "ci95": []})
            line["x"].append(x)
            line["mean"].append(row["figures"][figure]["mean"])
            line["ci95"].append(row["figures"][figure]["ci95"] or [math.nan, math.nan])
        for name, line in lines.items():
            if fit := fits.get(name, {}).get(figure):
                xs = sorted(set(line["x"]))
                line["fit"] = {
                    "x": xs,
                    "y": [fit["intercept"] + fit["slope"] * math.log2(x) for x in xs],
                    "label": f"{100 * fit['slope']:+.2f}/doubling"
                    + (f", R^2 {fit['r2']:.2f}" if fit["r2"] is not None else ""),
                }
        xlabel = "training examples" if fits else keys[0]
        path = out_dir / f"sweep_{figure.replace('@', '_at_')}.png"
        paths.append(plot_sweep(lines, path, f"{figure} ({len(groups)} settings)", xlabel, f"{figure} (%)", bool(fits)))
    return paths


def write_sweep_report(paths: list[str | Path], out_dir: str | Path) -> tuple[dict, str]:
    """Read the runs under `paths`; write sweep.csv, sweep.md, sweep.json and PNGs to out_dir. Returns the
    summary (sweep.json) and the markdown table."""
    out_dir = Path(out_dir)
    unreadable: list[str] = []
    runs, unfinished = find_runs(paths, unreadable)
    keys = swept_keys(runs)
    rows = [{"run": str(run.folder)} | {k: run.overrides.get(k) for k in keys} | flatten(run.headline) for run in runs]
    columns = list(dict.fromkeys(column for row in rows for column in row))
    out_dir.mkdir(parents=True, exist_ok=True)
    csv_text = io.StringIO(newline="")
    writer = csv.DictWriter(csv_text, columns)
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(out_dir / "sweep.csv", csv_text.getvalue())
    figures = figure_names(runs)
    group_keys = [key for key in keys if key != SEED_KEY]
    groups = {values: summarize_group(members, figures) for values, members in group_runs(runs, group_keys).items()}
    fits = fit_series(runs, group_keys, figures)
    table = markdown(group_keys, groups, fits, figures)
    atomic_write_text(out_dir / "sweep.md", table)
    plots = plot_figures(group_keys, groups, fits, figures, out_dir)
    summary = {
        "runs": len(runs),
        "unfinished": [str(job) for job in unfinished],
        "unreadable": unreadable,
        "swept": keys,
        "groups": [dict(zip(group_keys, values, strict=True)) | row for values, row in groups.items()],
        "fits": fits,
        "plots": [path.name for path in plots],
    }
    write_json(out_dir / "sweep.json", summary)
    return summary, table
