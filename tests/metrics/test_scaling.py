import math

import numpy as np
import pytest

from mathlit.metrics.scaling import fit_log_linear, fit_power_law


def noisy_line(rng, amounts):
    return 0.10 + 0.05 * np.log2(amounts) + rng.normal(0, 0.01, len(amounts))


def test_log_linear_fit_recovers_a_known_slope_and_its_interval_covers_it():
    rng = np.random.default_rng(0)
    amounts = np.repeat([64, 128, 256, 512, 1024], 3)  # 5 data amounts x 3 seeds
    fit = fit_log_linear(amounts, noisy_line(rng, amounts))
    assert fit.slope == pytest.approx(0.05, abs=0.005) and fit.intercept == pytest.approx(0.10, abs=0.05)
    assert fit.slope_ci[0] < fit.slope < fit.slope_ci[1] and fit.slope_ci[1] - fit.slope_ci[0] < 0.01
    assert fit.intercept_ci[0] < fit.intercept < fit.intercept_ci[1]
    assert 0.95 < fit.r2 < 1 and fit.points == 15
    assert fit.predict(2048) == pytest.approx(fit.intercept + 11 * fit.slope)
    # Over many such sweeps the 95% interval holds the true slope most of the time (a bootstrap over
    # 15 runs covers a little less than 95%: 0.90 here).
    covered = [
        (f := fit_log_linear(amounts, noisy_line(rng, amounts))).slope_ci[0] < 0.05 < f.slope_ci[1] for _ in range(200)
    ]
    assert 0.85 <= np.mean(covered) < 1


def test_an_exact_line_fits_with_r2_one_and_a_flat_one_has_no_r2():
    exact = fit_log_linear([1, 2, 4, 8], [0.2, 0.3, 0.4, 0.5])
    assert (exact.slope, exact.intercept, exact.r2) == pytest.approx((0.1, 0.2, 1.0))
    assert fit_log_linear([1, 2, 4], [0.3, 0.3, 0.3]).r2 is None


def test_log_linear_fit_needs_two_amounts():
    with pytest.raises(ValueError, match="two distinct amounts"):
        fit_log_linear([100, 100], [0.2, 0.3])


@pytest.mark.parametrize("p", [0.6, 0.9])
def test_power_law_fit_recovers_the_single_step_accuracy(p):
    rng = np.random.default_rng(1)
    steps = rng.integers(1, 8, 3000)
    trials = np.full(3000, 4)
    fit = fit_power_law(rng.binomial(trials, p**steps), trials, steps)
    assert fit.p == pytest.approx(p, abs=0.01) and fit.p_ci[0] < fit.p < fit.p_ci[1]
    assert fit.p_ci[1] - fit.p_ci[0] < 0.03 and fit.problems == 3000


def test_power_law_interval_covers_the_true_p():
    rng = np.random.default_rng(2)
    steps, trials = rng.integers(1, 8, 200), np.full(200, 4)
    fits = [fit_power_law(rng.binomial(trials, 0.8**steps), trials, steps, resamples=400) for _ in range(40)]
    assert 0.85 <= np.mean([f.p_ci[0] < 0.8 < f.p_ci[1] for f in fits]) <= 1


def test_power_law_fit_at_the_bounds_and_from_one_sample_per_problem():
    assert fit_power_law([1, 1], [1, 1], [2, 3]).p == 1.0
    assert fit_power_law([0, 0], [1, 1], [2, 3]).p == 0.0
    # One step solved 3 times in 4: p = 0.75 exactly (the binomial maximum likelihood).
    assert math.isclose(fit_power_law([1, 1, 1, 0], [1, 1, 1, 1], [1, 1, 1, 1]).p, 0.75, abs_tol=1e-6)


def test_power_law_fit_refuses_problems_without_steps():
    with pytest.raises(ValueError, match="steps >= 1"):
        fit_power_law([1], [1], [0])
