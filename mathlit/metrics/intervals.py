"""Bootstrap confidence intervals (percentile method), seeded so that a rerun prints the same interval.

Problems are the unit of resampling for a model's accuracy: one run's metrics are means over problems, and
resampling problems shows how much the figure would move on another test set of the same size.
"""

from collections.abc import Sequence

import numpy as np

RESAMPLES = 1000
LEVEL = 0.95
SEED = 0


def percentile_interval(estimates: np.ndarray, level: float = LEVEL) -> list[float]:
    """[low, high] of the central `level` share of bootstrap estimates (NaNs, degenerate resamples, ignored)."""
    tail = 100 * (1 - level) / 2
    low, high = np.nanpercentile(estimates, [tail, 100 - tail])
    return [float(low), float(high)]


def resample_indices(n: int, resamples: int = RESAMPLES, seed: int = SEED) -> np.ndarray:
    """(resamples, n) row indices drawn with replacement."""
    return np.random.default_rng(seed).integers(0, n, size=(resamples, n))


def mean_intervals(
    columns: dict[str, Sequence[float]], resamples: int = RESAMPLES, level: float = LEVEL, seed: int = SEED
) -> dict[str, list[float]]:
    """Interval of the mean of each column; all columns share the resampled rows (one value per problem each),
    so the intervals of pass@k at different k come from the same resampled test sets."""
    if not columns:
        return {}
    table = np.array([list(values) for values in columns.values()], dtype=float)  # (columns, rows)
    if table.shape[1] == 0:
        raise ValueError("a bootstrap interval needs at least one value")
    means = table[:, resample_indices(table.shape[1], resamples, seed)].mean(axis=2)  # (columns, resamples)
    return {name: percentile_interval(row, level) for name, row in zip(columns, means, strict=True)}


def mean_interval(
    values: Sequence[float], resamples: int = RESAMPLES, level: float = LEVEL, seed: int = SEED
) -> list[float]:
    return mean_intervals({"mean": values}, resamples, level, seed)["mean"]
