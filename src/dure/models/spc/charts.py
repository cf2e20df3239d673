"""Shewhart control charts (X̄-R, X̄-S, I-MR, p, np, c, u), EWMA and CUSUM.

Each chart gives its plotted statistic per point with centre line and limits, so a
caller can draw it and pass it to the run rules. Limits are computed from the data
given (phase I) unless known parameters are passed (phase II).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from dure.models.spc.constants import c4, d2, factors


@dataclass(frozen=True)
class Chart:
    """One plotted series with its centre line and control limits (arrays, per point)."""

    name: str
    values: np.ndarray
    centre: np.ndarray
    lower: np.ndarray
    upper: np.ndarray

    @property
    def sigma(self) -> np.ndarray:
        """One standard deviation of the plotted statistic (limits are three of them)."""
        return (self.upper - self.centre) / 3

    def beyond_limits(self) -> np.ndarray:
        """Indices of points outside the control limits."""
        return np.flatnonzero((self.values > self.upper) | (self.values < self.lower))


def _full(value: float, n: int) -> np.ndarray:
    return np.full(n, float(value))


def _subgroups(data: np.ndarray) -> np.ndarray:
    arr = np.asarray(data, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] < 2:
        raise ValueError("subgroup data must be a (subgroups, size) array with size 2 or more")
    if not np.isfinite(arr).all():
        raise ValueError("subgroup data holds NaN or infinite values")
    return arr


def _xbar_and_spread(
    arr: np.ndarray, spread: np.ndarray, name: str, a: float, low: float, high: float
) -> tuple[Chart, Chart]:
    """X̄ chart with limits ± a·(mean spread), and the spread chart with low/high factors."""
    m = len(arr)
    means = arr.mean(axis=1)
    grand, bar = means.mean(), spread.mean()
    xbar = Chart(
        "xbar", means, _full(grand, m), _full(grand - a * bar, m), _full(grand + a * bar, m)
    )
    return xbar, Chart(name, spread, _full(bar, m), _full(low * bar, m), _full(high * bar, m))


def xbar_r(data: np.ndarray) -> tuple[Chart, Chart]:
    """X̄ and R charts of equal-size subgroups (rows)."""
    arr = _subgroups(data)
    f = factors(arr.shape[1])
    return _xbar_and_spread(arr, np.ptp(arr, axis=1), "range", f.A2, f.D3, f.D4)


def xbar_s(data: np.ndarray) -> tuple[Chart, Chart]:
    """X̄ and S charts of equal-size subgroups (rows)."""
    arr = _subgroups(data)
    f = factors(arr.shape[1])
    return _xbar_and_spread(arr, arr.std(axis=1, ddof=1), "stdev", f.A3, f.B3, f.B4)


def individuals(values: np.ndarray) -> tuple[Chart, Chart]:
    """Individuals and moving-range (span 2) charts."""
    x = np.asarray(values, dtype=np.float64)
    if x.ndim != 1 or len(x) < 2 or not np.isfinite(x).all():
        raise ValueError("individuals need two or more finite values")
    m = len(x)
    moving = np.abs(np.diff(x))
    mrbar = moving.mean()
    sigma = mrbar / d2(2)
    centre = x.mean()
    i_chart = Chart(
        "individual",
        x,
        _full(centre, m),
        _full(centre - 3 * sigma, m),
        _full(centre + 3 * sigma, m),
    )
    f = factors(2)
    mr = Chart(
        "moving_range",
        moving,
        _full(mrbar, m - 1),
        _full(f.D3 * mrbar, m - 1),
        _full(f.D4 * mrbar, m - 1),
    )
    return i_chart, mr


def _counts(defects: np.ndarray, sizes: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(defects, dtype=np.float64)
    n = np.ones_like(y) if sizes is None else np.asarray(sizes, dtype=np.float64)
    if y.shape != n.shape or y.ndim != 1 or len(y) == 0:
        raise ValueError("counts and sample sizes must be equal-length, non-empty lists")
    if (y < 0).any() or (n <= 0).any() or not np.isfinite(y).all():
        raise ValueError("counts must be finite and >= 0, sample sizes > 0")
    return y, n


def p_chart(nonconforming: np.ndarray, sizes: np.ndarray) -> Chart:
    """Fraction nonconforming; limits vary with each sample's size."""
    y, n = _counts(nonconforming, sizes)
    if (y > n).any():
        raise ValueError("a sample has more nonconforming units than units")
    pbar = y.sum() / n.sum()
    half = 3 * np.sqrt(pbar * (1 - pbar) / n)
    return Chart(
        "p", y / n, _full(pbar, len(y)), np.maximum(pbar - half, 0), np.minimum(pbar + half, 1)
    )


def np_chart(nonconforming: np.ndarray, size: int) -> Chart:
    """Number nonconforming in samples of one fixed size."""
    y, _ = _counts(nonconforming, None)
    pbar = y.sum() / (size * len(y))
    centre = size * pbar
    half = 3 * math.sqrt(size * pbar * (1 - pbar))
    m = len(y)
    return Chart(
        "np", y, _full(centre, m), _full(max(centre - half, 0), m), _full(centre + half, m)
    )


def c_chart(defects: np.ndarray) -> Chart:
    """Defects per inspection unit (equal units)."""
    y, _ = _counts(defects, None)
    cbar = y.mean()
    m = len(y)
    half = 3 * math.sqrt(cbar)
    return Chart("c", y, _full(cbar, m), _full(max(cbar - half, 0), m), _full(cbar + half, m))


def u_chart(defects: np.ndarray, units: np.ndarray) -> Chart:
    """Defects per unit with a varying number of units per sample."""
    y, n = _counts(defects, units)
    ubar = y.sum() / n.sum()
    half = 3 * np.sqrt(ubar / n)
    return Chart("u", y / n, _full(ubar, len(y)), np.maximum(ubar - half, 0), ubar + half)


def ewma(
    values: np.ndarray, target: float, sigma: float, lam: float = 0.1, width: float = 2.7
) -> Chart:
    """EWMA chart with exact (time-varying) limits; Montgomery §9.2."""
    x = np.asarray(values, dtype=np.float64)
    if not 0 < lam <= 1:
        raise ValueError("lambda must be in (0, 1]")
    z = np.empty_like(x)
    level = target
    for i, value in enumerate(x):
        level = lam * value + (1 - lam) * level
        z[i] = level
    steps = np.arange(1, len(x) + 1)
    half = width * sigma * np.sqrt(lam / (2 - lam) * (1 - (1 - lam) ** (2 * steps)))
    return Chart("ewma", z, _full(target, len(x)), target - half, target + half)


def cusum(
    values: np.ndarray, target: float, sigma: float, k: float = 0.5, h: float = 5.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Tabular CUSUM (upper C+, lower C-) with reference k·σ and decision h·σ; §9.1.

    Returns (C+, C-, indices where either exceeds h·σ).
    """
    x = np.asarray(values, dtype=np.float64)
    upper, lower = np.empty_like(x), np.empty_like(x)
    hi = lo = 0.0
    for i, value in enumerate(x):
        hi = max(0.0, value - (target + k * sigma) + hi)
        lo = max(0.0, (target - k * sigma) - value + lo)
        upper[i], lower[i] = hi, lo
    signals = np.flatnonzero((upper > h * sigma) | (lower > h * sigma))
    return upper, lower, signals


def within_sigma_from_ranges(data: np.ndarray) -> float:
    """σ estimated within subgroups as R̄ / d2."""
    arr = _subgroups(data)
    return float(np.ptp(arr, axis=1).mean() / d2(arr.shape[1]))


def within_sigma_from_sds(data: np.ndarray) -> float:
    """σ estimated within subgroups as s̄ / c4."""
    arr = _subgroups(data)
    return float(arr.std(axis=1, ddof=1).mean() / c4(arr.shape[1]))
