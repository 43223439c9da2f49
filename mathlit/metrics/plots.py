"""Metric curves as PNG: against the number of samples k, reasoning steps, or a sweep's settings."""

import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402

from mathlit.io import atomic_write_bytes  # noqa: E402


def _save(fig, path: str | Path) -> Path:
    fig.tight_layout()
    path = Path(path)
    image = io.BytesIO()
    fig.savefig(image, format="png")
    plt.close(fig)
    atomic_write_bytes(path, image.getbuffer())
    return path


def curves_from_summary(summary: dict, names: tuple[str, ...]) -> dict[str, dict[int, float]]:
    """{'pass': {1: .., 2: ..}, ...} from a summary's 'pass@1', 'pass@2', ... entries."""
    curves: dict[str, dict[int, float]] = {}
    for key, value in summary.items():
        name, _, k = key.partition("@")
        if name in names and k.isdigit():
            curves.setdefault(name, {})[int(k)] = value
    return curves


def plot_vs_k(
    curves: dict[str, dict[int, float]],
    path: str | Path,
    title: str,
    flat: dict[str, float] | None = None,
    intervals: dict[str, list[float]] | None = None,
) -> Path:
    """One line per curve, shaded by its `intervals` ({"pass@4": [low, high], ...}) where given; `flat` values
    (e.g. PassRatio@N, greedy) as dashed horizontal lines."""
    fig, ax = plt.subplots(figsize=(6, 4), dpi=120)
    for name, points in curves.items():
        ks = sorted(points)
        (line,) = ax.plot(ks, [100 * points[k] for k in ks], marker="o", label=f"{name}@k")
        if intervals and all(f"{name}@{k}" in intervals for k in ks):
            low, high = ([100 * intervals[f"{name}@{k}"][side] for k in ks] for side in (0, 1))
            ax.fill_between(ks, low, high, color=line.get_color(), alpha=0.15, linewidth=0)
    for name, value in (flat or {}).items():
        ax.axhline(100 * value, linestyle="--", linewidth=1, color="gray")
        ax.text(1, 100 * value, f" {name} {100 * value:.1f}", va="bottom", fontsize=8, color="gray")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("k (samples per problem)")
    ax.set_ylabel("accuracy (%)")
    ax.set_ylim(0, 100)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    return _save(fig, path)


def plot_histogram(counts: dict[int, int], path: str | Path, title: str, xlabel: str, ylabel: str) -> Path:
    fig, ax = plt.subplots(figsize=(6, 4), dpi=120)
    xs = sorted(counts)
    ax.bar(xs, [counts[x] for x in xs])
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3, axis="y")
    return _save(fig, path)


def _error_bars(ax, xs: list[float], means: list[float], intervals: list[list[float]], label: str, joined=True):
    low = [100 * (m - lo) for m, (lo, _) in zip(means, intervals, strict=True)]
    high = [100 * (hi - m) for m, (_, hi) in zip(means, intervals, strict=True)]
    style = "-" if joined else "none"
    return ax.errorbar(xs, [100 * m for m in means], yerr=[low, high], marker="o", ls=style, capsize=3, label=label)


def plot_power_law(by_steps: dict, path: str | Path, title: str) -> Path:
    """Accuracy per number of reasoning steps (mean over problems, 95% interval) and the fitted p^s."""
    fig, ax = plt.subplots(figsize=(6, 4), dpi=120)
    rows = by_steps["by_steps"]
    steps = [int(s) for s in rows]
    means, intervals = [r["accuracy"] for r in rows.values()], [r["ci95"] for r in rows.values()]
    _error_bars(ax, steps, means, intervals, "measured", joined=False)
    low, high = by_steps["p_ci95"]
    label = f"p^s, p={by_steps['p']:.3f} [{low:.3f}, {high:.3f}]"
    ax.plot(steps, [100 * r["fitted"] for r in rows.values()], "--", label=label)
    ax.set_xlabel("reasoning steps of the reference solution")
    ax.set_ylabel("accuracy (%)")
    ax.set_ylim(0, 100)
    ax.set_xticks(steps)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    return _save(fig, path)


def plot_sweep(
    series: dict[str, dict], path: str | Path, title: str, xlabel: str, ylabel: str, log_x: bool = False
) -> Path:
    """One line per series: {"x": [...], "mean": [...], "ci95": [[lo, hi], ...]} and an optional "fit":
    {"x": [...], "y": [...], "label": ...} drawn dashed in the series' colour."""
    fig, ax = plt.subplots(figsize=(6, 4), dpi=120)
    for name, s in series.items():
        line = _error_bars(ax, s["x"], s["mean"], s["ci95"], name, joined="fit" not in s)
        if fit := s.get("fit"):
            ax.plot(fit["x"], [100 * y for y in fit["y"]], "--", color=line[0].get_color(), label=fit["label"])
    if log_x:
        ax.set_xscale("log", base=2)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _save(fig, path)


def plot_funnel(steps: list[list], path: str | Path, title: str) -> Path:
    """Horizontal bars, first step on top: how many items are left after each step."""
    fig, ax = plt.subplots(figsize=(6, 0.5 * len(steps) + 1.2), dpi=120)
    names, counts = [name for name, _ in steps], [count for _, count in steps]
    bars = ax.barh(range(len(steps)), counts)
    ax.bar_label(bars, fontsize=8)
    ax.set_yticks(range(len(steps)), names)
    ax.invert_yaxis()
    ax.set_xlabel("new questions left")
    ax.set_title(title)
    ax.grid(alpha=0.3, axis="x")
    return _save(fig, path)


def plot_over_steps(curves: dict[str, dict[int, float]], path: str | Path, title: str) -> Path:
    """Curves of values in [0, 1] (reward, accuracy) against training steps, one line each."""
    fig, ax = plt.subplots(figsize=(6, 4), dpi=120)
    for name, points in curves.items():
        if points:
            steps = sorted(points)
            ax.plot(steps, [points[s] for s in steps], marker="o" if len(steps) < 30 else None, label=name)
    ax.set_xlabel("step")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    return _save(fig, path)
