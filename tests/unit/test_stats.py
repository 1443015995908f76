"""The statistics of a comparison (`tracking.stats`), against computations written out here."""

from __future__ import annotations

import math

import numpy as np
import pytest

from contrastlab.tracking.stats import holm, interval, over_seeds, paired, wilson


def test_an_accuracy_gets_wilsons_interval_worked_out_by_hand():
    assert interval([0.5] * 64, proportion=True) == (0.5, 0.5)  # all ties: a policy against itself, 0.5 by construction
    values = [1.0] * 40 + [0.0] * 20 + [0.5] * 4  # 64 pairs, 42 "successes" (ties count one half)
    n, p, z = 64, 42 / 64, 1.959963984540054
    centre = (p + z**2 / (2 * n)) / (1 + z**2 / n)
    half = z / (1 + z**2 / n) * math.sqrt(p * (1 - p) / n + z**2 / (4 * n**2))
    assert interval(values, proportion=True) == pytest.approx((centre - half, centre + half), abs=1e-12)
    low, high = interval(values, proportion=True)
    assert 0 < low < p < high < 1 and high - low == pytest.approx(2 * half)
    assert wilson(32, 64)[0] < 0.5 < wilson(32, 64)[1]


def test_a_mean_gets_the_percentile_bootstrap_worked_out_by_hand():
    values = np.array([0.3, -1.2, 2.5, 0.1, 0.9, -0.4, 1.7, 0.0])
    rng = np.random.default_rng(7)
    means = values[rng.integers(0, 8, size=(500, 8))].mean(axis=1)
    expected = (np.quantile(means, 0.025), np.quantile(means, 0.975))
    assert interval(values, resamples=500, seed=7) == pytest.approx(expected, abs=1e-12)
    assert interval(values, resamples=500, seed=8) != pytest.approx(expected, abs=1e-12)  # the seed is used
    assert all(math.isnan(x) for x in interval([]))
    assert interval([0.0] * 10) == (0.0, 0.0)  # a mean of zeros (margins of a policy against itself) is not a rate


def test_a_paired_comparison_finds_a_planted_difference_and_not_a_null_one():
    rng = np.random.default_rng(0)
    base = rng.normal(size=200)
    better = base + 0.3 + rng.normal(scale=0.5, size=200)  # the same examples, 0.3 better
    found = paired(better, base, resamples=2000, seed=1)
    assert found.low > 0 and found.p < 0.01 and found.mean == pytest.approx(0.3, abs=0.1)
    null = paired(base + rng.normal(scale=0.5, size=200), base, resamples=2000, seed=1)
    assert null.low < 0 < null.high and null.p > 0.05
    assert paired(base, base).p == 1.0


def test_differences_over_seeds_get_a_t_interval():
    mean, low, high = over_seeds([0.05, 0.07, 0.06])
    half = 4.302652729911275 * 0.01 / math.sqrt(3)  # t(0.975, 2 df) * sd / sqrt(n)
    assert (mean, low, high) == pytest.approx((0.06, 0.06 - half, 0.06 + half))
    assert over_seeds([0.1]) == (0.1, 0.1, 0.1)


def test_holm_rejects_step_down():
    # sorted p: 0.001 <= 0.05/4, 0.01 <= 0.05/3, 0.03 > 0.05/2: stop; 0.04 kept though below 0.05
    assert holm([0.04, 0.001, 0.03, 0.01]) == [False, True, False, True]
    assert holm([]) == []


def test_a_correlation_interval_is_fishers():
    import math

    from contrastlab.tracking.stats import correlation_interval

    low, high = correlation_interval(0.5, 103)  # z = atanh(0.5) = 0.549306, se = 1/10
    assert low == pytest.approx(math.tanh(0.549306 - 1.959964 * 0.1), abs=1e-5)
    assert high == pytest.approx(math.tanh(0.549306 + 1.959964 * 0.1), abs=1e-5)
    low_s, high_s = correlation_interval(0.5, 103, rank=True)  # Spearman's: se = sqrt(1.06) / 10, wider
    assert low_s < low and high_s > high
    assert all(math.isnan(x) for x in correlation_interval(0.5, 3))
