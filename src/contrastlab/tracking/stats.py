"""The statistics of a comparison: intervals on held-out metrics, paired differences between runs, and a Holm
correction over many such differences. Pure numpy; every random draw is seeded, so a report is reproducible.

- `interval(values, ...)`: the 95% interval of a mean over held-out examples. A proportion (`proportion=True`,
  values in {0, 0.5, 1}: an accuracy, ties counting one half) gets Wilson's score interval (closed form, good at small N and near 0 or 1);
  all ties (a policy against itself as reference: 0.5 by construction) the point 0.5; any other mean the
  percentile bootstrap over examples (`resamples` draws).
- `paired(a, b, ...)`: two runs measured on the same examples, value by value: the mean difference, its paired
  bootstrap interval and a two-sided bootstrap p-value (how often the resampled difference falls on the other side
  of 0, doubled).
- `over_seeds(differences)`: the mean of per-seed differences with a t interval (the seeds are the replicates).
- `holm(pvalues, alpha)`: which of many comparisons hold at family-wise level `alpha` (Holm 1979).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

LEVEL = 0.95
RATES = ("accuracy", "win_rate")  # a metric named with one of these endings is a proportion
_Z = 1.959963984540054  # the standard normal's 97.5% quantile


def is_proportion(values: np.ndarray) -> bool:
    return bool(np.isin(values, (0.0, 0.5, 1.0)).all())


def wilson(successes: float, n: int, z: float = _Z) -> tuple[float, float]:
    """Wilson's score interval of a binomial proportion successes / n."""
    if n == 0:
        return math.nan, math.nan
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return centre - half, centre + half


def bootstrap_means(values: np.ndarray, resamples: int, seed: int) -> np.ndarray:
    """`resamples` means of samples with replacement of `values` (N,), drawn from `seed`."""
    rng = np.random.default_rng(seed)
    index = rng.integers(0, len(values), size=(resamples, len(values)))
    return values[index].mean(axis=1)


def interval(values, resamples: int = 1000, seed: int = 0, level: float = LEVEL,
             proportion: bool = False) -> tuple[float, float]:  # fmt: skip
    """The `level` interval of the mean of `values` (see the module docstring); (nan, nan) for no values.
    `proportion`: the values are outcomes (1, 0, and 0.5 for a tie) whose mean is a rate."""
    values = np.asarray(values, dtype=np.float64)
    if values.size == 0:
        return math.nan, math.nan
    if proportion and (values == 0.5).all():  # every pair a tie (a policy against itself): 0.5 by construction
        return 0.5, 0.5
    if proportion and is_proportion(values):
        return wilson(float(values.sum()), values.size)
    if values.size == 1 or resamples < 1:
        return float(values[0]), float(values[0])
    means = bootstrap_means(values, resamples, seed)
    tail = (1 - level) / 2
    return float(np.quantile(means, tail)), float(np.quantile(means, 1 - tail))


@dataclass(frozen=True)
class Difference:
    """mean(a - b) over paired values, its interval and its two-sided p-value."""

    mean: float
    low: float
    high: float
    p: float
    n: int


def paired(a, b, resamples: int = 1000, seed: int = 0, level: float = LEVEL) -> Difference:
    """The paired bootstrap of mean(a - b) over the same examples (a and b in one order)."""
    diff = np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)
    if diff.size == 0:
        return Difference(math.nan, math.nan, math.nan, math.nan, 0)
    means = bootstrap_means(diff, max(resamples, 1), seed)
    tail = (1 - level) / 2
    above, below = float((means > 0).mean()), float((means < 0).mean())
    ties = 1.0 - above - below
    p = min(1.0, 2 * (min(above, below) + ties / 2)) if diff.any() else 1.0
    return Difference(float(diff.mean()), float(np.quantile(means, tail)), float(np.quantile(means, 1 - tail)),
                      p, int(diff.size))  # fmt: skip


def over_seeds(differences, level: float = LEVEL) -> tuple[float, float, float]:
    """(mean, low, high) of per-seed differences: Student's t interval over the seeds (a point for one seed)."""
    from scipy import stats

    d = np.asarray(differences, dtype=np.float64)
    if d.size == 0:
        return math.nan, math.nan, math.nan
    mean = float(d.mean())
    if d.size == 1:
        return mean, mean, mean
    half = float(stats.t.ppf((1 + level) / 2, d.size - 1) * d.std(ddof=1) / math.sqrt(d.size))
    return mean, mean - half, mean + half


def correlation_interval(r: float, n: int, rank: bool = False, level: float = LEVEL) -> tuple[float, float]:
    """The `level` interval of a correlation `r` measured on `n` pairs, by Fisher's z transform: z = atanh(r) with
    standard error 1 / sqrt(n - 3) for Pearson's, sqrt(1.06 / (n - 3)) for Spearman's (`rank`; Fieller, Hartley and
    Pearson 1957); (nan, nan) for n <= 3."""
    if n <= 3 or not math.isfinite(r):
        return math.nan, math.nan
    from scipy import stats

    z, se = math.atanh(max(min(r, 1 - 1e-12), -1 + 1e-12)), math.sqrt((1.06 if rank else 1.0) / (n - 3))
    q = float(stats.norm.ppf((1 + level) / 2))
    return math.tanh(z - q * se), math.tanh(z + q * se)


def holm(pvalues, alpha: float = 0.05) -> list[bool]:
    """Which hypotheses Holm's step-down procedure rejects at family-wise error rate `alpha` (in input order)."""
    p = list(pvalues)
    order = sorted(range(len(p)), key=lambda i: p[i])
    reject = [False] * len(p)
    for rank, i in enumerate(order):
        if math.isnan(p[i]) or p[i] > alpha / (len(p) - rank):
            break
        reject[i] = True
    return reject
