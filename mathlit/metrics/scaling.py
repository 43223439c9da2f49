"""Scaling fits with bootstrap intervals: pure functions over numbers.

- Log-linear (RFT paper): accuracy = intercept + slope * log2(amount), least squares over runs; the slope is
  the accuracy gained per doubling of the amount (training examples, samples, parameters). Intervals resample
  runs.
- Power law in reasoning steps (Xwin-Math): a problem whose reference solution takes s steps is solved with
  probability p^s, p the single-step accuracy. p is the maximum-likelihood fit over problems (c of n samples
  correct, binomial); its interval resamples problems.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from mathlit.metrics.intervals import LEVEL, RESAMPLES, SEED, percentile_interval, resample_indices


@dataclass(frozen=True)
class LogLinearFit:
    intercept: float  # accuracy at amount 1
    slope: float  # accuracy per doubling of the amount
    r2: float | None  # None when the accuracies are all equal
    intercept_ci: list[float]
    slope_ci: list[float]
    points: int

    def predict(self, amount: float) -> float:
        return self.intercept + self.slope * math.log2(amount)


def _line(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Least-squares intercept and slope of each row of x, y (rows of equal x: NaN)."""
    dx = x - x.mean(axis=-1, keepdims=True)
    var = (dx * dx).sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        slope = np.where(var > 0, (dx * (y - y.mean(axis=-1, keepdims=True))).sum(axis=-1) / var, np.nan)
    return y.mean(axis=-1) - slope * x.mean(axis=-1), slope


def fit_log_linear(
    amounts: Sequence[float],
    accuracies: Sequence[float],
    resamples: int = RESAMPLES,
    level: float = LEVEL,
    seed: int = SEED,
) -> LogLinearFit:
    x, y = np.log2(np.asarray(amounts, dtype=float)), np.asarray(accuracies, dtype=float)
    if len(x) != len(y) or len(set(x.tolist())) < 2:
        raise ValueError(f"a log-linear fit needs at least two distinct amounts, got {sorted(set(amounts))}")
    intercept, slope = _line(x, y)
    residual = y - (intercept + slope * x)
    total = ((y - y.mean()) ** 2).sum()
    r2 = float(1 - (residual**2).sum() / total) if total > 0 else None
    idx = resample_indices(len(x), resamples, seed)
    intercepts, slopes = _line(x[idx], y[idx])
    return LogLinearFit(
        float(intercept),
        float(slope),
        r2,
        percentile_interval(intercepts, level),
        percentile_interval(slopes, level),
        len(x),
    )


@dataclass(frozen=True)
class PowerLawFit:
    p: float  # single-step accuracy: a problem of s steps is solved with probability p**s
    p_ci: list[float]
    problems: int


def _max_likelihood_p(correct: np.ndarray, wrong: np.ndarray, steps: np.ndarray, iterations: int = 48) -> np.ndarray:
    """argmax over p of sum_s C_s*s*log p + W_s*log(1-p^s) per row, C_s and W_s the correct and wrong samples
    of problems with s steps: concave in p (s >= 1), so golden-section search on (0, 1) finds it."""
    low, high = np.zeros(correct.shape[0]), np.ones(correct.shape[0])
    ratio = (math.sqrt(5) - 1) / 2

    def loglik(p: np.ndarray) -> np.ndarray:
        p = np.clip(p, 1e-12, 1 - 1e-12)[:, None]
        return (correct * steps * np.log(p) + wrong * np.log1p(-(p**steps))).sum(axis=1)

    for _ in range(iterations):
        a, b = high - ratio * (high - low), low + ratio * (high - low)
        left_better = loglik(a) > loglik(b)
        high = np.where(left_better, b, high)
        low = np.where(left_better, low, a)
    return np.round((low + high) / 2, 9)  # the search ends within 1e-9 of p


def fit_power_law(
    correct: Sequence[float],
    trials: Sequence[int],
    steps: Sequence[int],
    resamples: int = RESAMPLES,
    level: float = LEVEL,
    seed: int = SEED,
) -> PowerLawFit:
    """Per problem: correct samples (of `trials`) and reasoning steps (>= 1) of its reference solution."""
    c, n, s = (np.asarray(v, dtype=float) for v in (correct, trials, steps))
    if not len(c) or (s < 1).any() or (c > n).any():
        raise ValueError("a power-law fit needs problems with steps >= 1 and correct <= trials")
    # The likelihood depends on the problems only through the counts per step value: sum those per resample.
    values, column = np.unique(s, return_inverse=True)
    onehot = np.eye(len(values))[column]  # (problems, step values)
    idx = resample_indices(len(c), resamples, seed)
    # How often each problem is drawn in each resample; row 0 is the data itself.
    flat = (np.arange(1, resamples + 1)[:, None] * len(c) + idx).ravel()
    weights = np.bincount(flat, minlength=(resamples + 1) * len(c)).reshape(resamples + 1, len(c)).astype(float)
    weights[0] = 1
    p = _max_likelihood_p(weights @ (c[:, None] * onehot), weights @ ((n - c)[:, None] * onehot), values[None])
    return PowerLawFit(float(p[0]), percentile_interval(p[1:], level), len(c))
