"""Across-seed statistics for sweep reports: mean, std, percentile-bootstrap CI and IQM.

IQM is the interquartile mean of Agarwal et al. (2021, rliable): the mean of the values left
after cutting int(n/4) from each end of the sorted sample (scipy.stats.trim_mean(x, 0.25)).
"""

from __future__ import annotations

import math

import numpy as np

BOOTSTRAP_RESAMPLES = 10_000
BOOTSTRAP_SEED = 0  # fixed, so a report is reproducible


def iqm(values: np.ndarray) -> float:
    x = np.sort(np.asarray(values, dtype=float))
    if x.size == 0:
        return math.nan
    cut = int(0.25 * x.size)
    return float(x[cut : x.size - cut].mean())


def std(values: np.ndarray) -> float:
    """Sample standard deviation (ddof=1); nan for a single value."""
    x = np.asarray(values, dtype=float)
    return float(x.std(ddof=1)) if x.size > 1 else math.nan


def bootstrap_ci(
    values: np.ndarray, level: float = 0.95, resamples: int = BOOTSTRAP_RESAMPLES
) -> tuple[float, float]:
    """Percentile-bootstrap confidence interval of the mean (nan, nan for no values)."""
    x = np.asarray(values, dtype=float)
    if x.size == 0:
        return math.nan, math.nan
    rng = np.random.default_rng(BOOTSTRAP_SEED)
    means = x[rng.integers(0, x.size, size=(resamples, x.size))].mean(axis=1)
    alpha = (1.0 - level) / 2.0
    low, high = np.quantile(means, [alpha, 1.0 - alpha])
    return float(low), float(high)


def bootstrap_band(
    curves: np.ndarray, level: float = 0.95, resamples: int = 2000
) -> tuple[np.ndarray, np.ndarray]:
    """Pointwise bootstrap CI of the mean curve; `curves` is (seeds, points)."""
    rng = np.random.default_rng(BOOTSTRAP_SEED)
    idx = rng.integers(0, curves.shape[0], size=(resamples, curves.shape[0]))
    means = curves[idx].mean(axis=1)  # (resamples, points)
    alpha = (1.0 - level) / 2.0
    return np.quantile(means, alpha, axis=0), np.quantile(means, 1.0 - alpha, axis=0)


def t_interval(values, level: float = 0.95) -> tuple[float, float]:
    """Student-t confidence interval of the mean (nan, nan below two values)."""
    low, high = t_band(np.asarray(values, dtype=float)[:, None], level)
    return float(low[0]), float(high[0])


def t_band(curves: np.ndarray, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Pointwise Student-t CI of the mean curve; `curves` is (seeds, points); nan below 2 seeds."""
    n = curves.shape[0]
    mean = curves.mean(axis=0)
    if n < 2:
        return np.full_like(mean, math.nan), np.full_like(mean, math.nan)
    from scipy.stats import t

    half = t.ppf(0.5 + level / 2, n - 1) * curves.std(axis=0, ddof=1) / math.sqrt(n)
    return mean - half, mean + half


def align_curves(curves: list[tuple[list, list]]) -> tuple[np.ndarray, np.ndarray]:
    """Per-seed (x, y) curves on a common grid: the x values every seed reached, each seed's y
    interpolated there; returns (grid, (seeds, points))."""
    end = min(max(x) for x, _ in curves)
    grid = np.array(sorted({f for x, _ in curves for f in x if f <= end}))
    return grid, np.stack([np.interp(grid, x, y) for x, y in curves])
