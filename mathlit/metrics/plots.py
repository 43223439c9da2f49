"""Metric curves against the number of samples k (log scale), as PNG."""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402


def _save(fig, path: str | Path) -> Path:
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
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
    curves: dict[str, dict[int, float]], path: str | Path, title: str, flat: dict[str, float] | None = None
) -> Path:
    """One line per curve; `flat` values (e.g. PassRatio@N, greedy) as dashed horizontal lines."""
    fig, ax = plt.subplots(figsize=(6, 4), dpi=120)
    for name, points in curves.items():
        ks = sorted(points)
        ax.plot(ks, [100 * points[k] for k in ks], marker="o", label=f"{name}@k")
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
