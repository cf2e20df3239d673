"""Control-chart constants computed from the normal distribution (not typed from a table).

d2 and d3 are the mean and standard deviation of the range of n standard normal values,
c4 the bias of the sample standard deviation; the chart factors follow from them as in
Montgomery, *Introduction to Statistical Quality Control*, Appendix VI.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache

from scipy import integrate, special

SQRT_2PI = math.sqrt(2 * math.pi)
MAX_SUBGROUP = 50


def _check(n: int) -> None:
    if not 2 <= n <= MAX_SUBGROUP:
        raise ValueError(f"subgroup size must be between 2 and {MAX_SUBGROUP}, got {n}")


@cache
def d2(n: int) -> float:
    """Mean range of ``n`` standard normal values."""
    _check(n)
    cdf = special.ndtr

    def integrand(x: float) -> float:
        return 1 - cdf(x) ** n - (1 - cdf(x)) ** n

    return float(integrate.quad(integrand, -12, 12, limit=200)[0])


@cache
def d3(n: int) -> float:
    """Standard deviation of the range of ``n`` standard normal values."""
    _check(n)
    cdf = special.ndtr

    def pdf(x: float) -> float:
        return math.exp(-0.5 * x * x) / SQRT_2PI

    def below(w: float) -> float:  # P(range <= w)
        value = integrate.quad(
            lambda x: pdf(x) * (cdf(x + w) - cdf(x)) ** (n - 1), -12, 12, limit=200
        )[0]
        return n * value

    second_moment = integrate.quad(lambda w: 2 * w * (1 - below(w)), 0, 16, limit=200)[0]
    return math.sqrt(max(second_moment - d2(n) ** 2, 0.0))


@cache
def c4(n: int) -> float:
    """E[s] / sigma for samples of ``n`` normal values."""
    _check(n)
    return math.sqrt(2 / (n - 1)) * math.exp(math.lgamma(n / 2) - math.lgamma((n - 1) / 2))


@dataclass(frozen=True)
class ChartFactors:
    """Three-sigma factors for subgroups of size ``n``."""

    n: int
    A2: float
    A3: float
    D3: float
    D4: float
    B3: float
    B4: float


def factors(n: int) -> ChartFactors:
    """The X̄-R and X̄-S chart factors for subgroup size ``n``."""
    ratio = 3 * d3(n) / d2(n)
    spread = 3 * math.sqrt(1 - c4(n) ** 2) / c4(n)
    return ChartFactors(
        n=n,
        A2=3 / (d2(n) * math.sqrt(n)),
        A3=3 / (c4(n) * math.sqrt(n)),
        D3=max(0.0, 1 - ratio),
        D4=1 + ratio,
        B3=max(0.0, 1 - spread),
        B4=1 + spread,
    )
