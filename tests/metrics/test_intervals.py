import numpy as np
import pytest

from mathlit.metrics.intervals import mean_interval, mean_intervals


def test_mean_interval_brackets_the_mean_and_narrows_with_more_problems():
    rng = np.random.default_rng(0)
    small, large = rng.binomial(1, 0.6, 100).tolist(), rng.binomial(1, 0.6, 2500).tolist()
    low, high = mean_interval(small)
    assert low < np.mean(small) < high
    large_low, large_high = mean_interval(large)
    assert large_high - large_low < (high - low) / 3  # width ~ 1/sqrt(n): 5x the problems -> 1/5 the width
    assert large_low < 0.6 < large_high


def test_intervals_are_seeded_and_share_the_resampled_problems():
    values = [0, 1, 1, 0, 1, 1, 1, 0]
    assert mean_interval(values) == mean_interval(values)
    assert mean_interval(values, seed=1) != mean_interval(values, seed=2)
    # Two identical columns resampled together get the same interval; a constant column a point.
    both = mean_intervals({"a": values, "b": values, "c": [0.5] * 8})
    assert both["a"] == both["b"] == mean_interval(values) and both["c"] == [0.5, 0.5]


def test_an_empty_column_has_no_interval():
    with pytest.raises(ValueError, match="at least one value"):
        mean_interval([])
