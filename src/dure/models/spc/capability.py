"""Process capability: Cp, Cpk (within-subgroup σ) and Pp, Ppk (overall σ), with intervals.

Intervals: Cp and Pp from the χ² distribution of the variance; Cpk and Ppk by Bissell's
normal approximation (Montgomery §8.3.5). When σ within is estimated from ranges or moving
ranges its degrees of freedom are fewer than n − 1; ``sigma_dof`` passes them so that the
Cp and Cpk intervals are as wide as that estimate's uncertainty.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats


@dataclass(frozen=True)
class Index:
    """A capability index with its confidence interval."""

    value: float
    lower: float
    upper: float


@dataclass(frozen=True)
class Capability:
    """Capability of a characteristic against its specification limits."""

    cp: Index | None
    cpk: Index
    pp: Index | None
    ppk: Index
    mean: float
    sigma_within: float
    sigma_overall: float
    n: int


def _ratio_interval(value: float, dof: float, confidence: float) -> Index:
    alpha = 1 - confidence
    low = value * math.sqrt(stats.chi2.ppf(alpha / 2, dof) / dof)
    high = value * math.sqrt(stats.chi2.ppf(1 - alpha / 2, dof) / dof)
    return Index(value, low, high)


def _bissell(value: float, n: int, confidence: float, dof: float | None = None) -> Index:
    """Bissell (1990): Var(Ĉpk) ≈ 1/(9n) + Cpk²/(2ν), ν the σ estimate's degrees of freedom."""
    z = stats.norm.ppf(1 - (1 - confidence) / 2)
    nu = (n - 1) if dof is None else dof
    half = z * math.sqrt(1 / (9 * n) + value**2 / (2 * nu))
    return Index(value, value - half, value + half)


def capability(
    values: np.ndarray,
    lower_spec: float | None,
    upper_spec: float | None,
    sigma_within: float | None = None,
    confidence: float = 0.95,
    sigma_dof: float | None = None,
) -> Capability:
    """Cp/Cpk from ``sigma_within`` (e.g. R̄/d2; the overall σ when not given), Pp/Ppk overall.

    Cp and Pp need both specification limits; with one, only Cpk and Ppk are given.
    ``sigma_dof`` is the degrees of freedom of ``sigma_within`` (n − 1 when not given).
    """
    x = np.asarray(values, dtype=np.float64).ravel()
    if len(x) < 2 or not np.isfinite(x).all():
        raise ValueError("capability needs two or more finite values")
    if lower_spec is None and upper_spec is None:
        raise ValueError("give at least one specification limit")
    if lower_spec is not None and upper_spec is not None and lower_spec >= upper_spec:
        raise ValueError("the lower specification limit must be below the upper one")
    n, mean = len(x), float(x.mean())
    overall = float(x.std(ddof=1))
    within = float(sigma_within) if sigma_within is not None else overall

    def indices(sigma: float) -> tuple[float | None, float]:
        sides = []
        if upper_spec is not None:
            sides.append((upper_spec - mean) / (3 * sigma))
        if lower_spec is not None:
            sides.append((mean - lower_spec) / (3 * sigma))
        both = upper_spec is not None and lower_spec is not None
        spread = (upper_spec - lower_spec) / (6 * sigma) if both else None  # type: ignore[operator]
        return spread, min(sides)

    if sigma_dof is not None and not sigma_dof > 0:
        raise ValueError("the degrees of freedom of sigma within must be positive")
    cp, cpk = indices(within)
    pp, ppk = indices(overall)
    within_dof = float(n - 1) if sigma_dof is None else float(sigma_dof)
    return Capability(
        cp=_ratio_interval(cp, within_dof, confidence) if cp is not None else None,
        cpk=_bissell(cpk, n, confidence, within_dof),
        pp=_ratio_interval(pp, n - 1, confidence) if pp is not None else None,
        ppk=_bissell(ppk, n, confidence),
        mean=mean,
        sigma_within=within,
        sigma_overall=overall,
        n=n,
    )
