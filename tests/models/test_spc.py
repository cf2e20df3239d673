"""SPC against published worked examples.

Sources: D. C. Montgomery, *Introduction to Statistical Quality Control* (Wiley):
Appendix VI (chart constants), Example 6.1 / Table 6.3 (piston-ring inside diameters,
25 samples of 5: X̄-R), Example 6.3 (X̄-S on the same data; limits), Example 9.1 / Table 9.1
(tabular CUSUM, target 10, σ 1, k 0.5, h 5), §8.3.5 (capability intervals:
n = 20, Ĉpk = 1.33 gives 0.88 ≤ Cpk ≤ 1.78).
"""

from __future__ import annotations

import numpy as np
import pytest

from dure.models.spc import rules
from dure.models.spc.capability import capability
from dure.models.spc.charts import (
    Chart,
    c_chart,
    cusum,
    ewma,
    individuals,
    np_chart,
    p_chart,
    u_chart,
    within_sigma_from_ranges,
    xbar_r,
    xbar_s,
)
from dure.models.spc.constants import c4, d2, d3, factors

# Montgomery Table 6.3: one row per sample of five piston rings (mm).
PISTON_RINGS = np.array(
    [
        74.030, 74.002, 74.019, 73.992, 74.008, 73.995, 73.992, 74.001, 74.011, 74.004,
        73.998, 74.024, 74.021, 74.005, 74.002, 74.002, 73.996, 73.993, 74.015, 74.009,
        73.992, 74.007, 74.015, 73.989, 74.014, 74.009, 73.994, 73.997, 73.985, 73.993,
        73.995, 74.006, 73.994, 74.000, 74.005, 73.985, 74.003, 73.993, 74.015, 73.988,
        74.008, 73.995, 74.009, 74.005, 74.004, 73.998, 74.000, 73.990, 74.007, 73.995,
        73.994, 73.998, 73.994, 73.995, 73.990, 74.004, 74.000, 74.007, 74.000, 73.996,
        73.983, 74.002, 73.998, 73.997, 74.012, 74.006, 73.967, 73.994, 74.000, 73.984,
        74.012, 74.014, 73.998, 73.999, 74.007, 74.000, 73.984, 74.005, 73.998, 73.996,
        73.994, 74.012, 73.986, 74.005, 74.007, 74.006, 74.010, 74.018, 74.003, 74.000,
        73.984, 74.002, 74.003, 74.005, 73.997, 74.000, 74.010, 74.013, 74.020, 74.003,
        73.982, 74.001, 74.015, 74.005, 73.996, 74.004, 73.999, 73.990, 74.006, 74.009,
        74.010, 73.989, 73.990, 74.009, 74.014, 74.015, 74.008, 73.993, 74.000, 74.010,
        73.982, 73.984, 73.995, 74.017, 74.013,
    ]
).reshape(25, 5)  # fmt: skip

# Montgomery Table 9.1: 20 in-control observations (μ = 10, σ = 1), then a 1σ shift.
CUSUM_DATA = [
    9.45, 7.99, 9.29, 11.66, 12.16, 10.18, 8.04, 11.46, 9.20, 10.34,
    9.03, 11.47, 10.51, 9.40, 10.08, 9.37, 10.62, 10.31, 8.52, 10.84,
    10.90, 9.33, 12.29, 11.50, 10.60, 11.08, 10.38, 11.62, 11.31, 10.52,
]  # fmt: skip


@pytest.mark.parametrize(
    ("n", "table"),
    [
        (2, {"d2": 1.128, "d3": 0.853, "A2": 1.880, "D4": 3.267, "c4": 0.7979, "B4": 3.267}),
        (5, {"d2": 2.326, "d3": 0.864, "A2": 0.577, "D4": 2.114, "c4": 0.9400, "A3": 1.427}),
        (10, {"d2": 3.078, "d3": 0.797, "A2": 0.308, "D3": 0.223, "D4": 1.777, "B3": 0.284}),
        (25, {"d2": 3.931, "c4": 0.9896, "A3": 0.606, "B4": 1.435, "D4": 1.541}),
    ],
)
def test_constants_match_appendix_vi(n: int, table: dict[str, float]) -> None:
    f = factors(n)
    computed = {"d2": d2(n), "d3": d3(n), "c4": c4(n)}
    computed.update({k: getattr(f, k) for k in ("A2", "A3", "D3", "D4", "B3", "B4")})
    for key, published in table.items():
        assert computed[key] == pytest.approx(published, abs=6e-4), key


def test_piston_ring_xbar_r_example_6_1() -> None:
    xbar, r = xbar_r(PISTON_RINGS)
    assert xbar.centre[0] == pytest.approx(74.001, abs=5e-4)
    assert r.centre[0] == pytest.approx(0.023, abs=5e-4)
    assert xbar.upper[0] == pytest.approx(74.014, abs=1e-3)
    assert xbar.lower[0] == pytest.approx(73.988, abs=1e-3)
    # The book rounds R̄ to 0.023 before multiplying by D4 = 2.114.
    assert r.upper[0] == pytest.approx(0.049, abs=1e-3) and r.lower[0] == 0
    assert xbar.beyond_limits().size == 0 and r.beyond_limits().size == 0  # in control
    assert xbar.values[0] == pytest.approx(74.010, abs=5e-4)


def test_piston_ring_xbar_s_example_6_3() -> None:
    xbar, s = xbar_s(PISTON_RINGS)
    assert xbar.upper[0] == pytest.approx(74.014, abs=1e-3)
    assert xbar.lower[0] == pytest.approx(73.988, abs=1e-3)
    assert s.upper[0] == pytest.approx(factors(5).B4 * s.centre[0]) and s.lower[0] == 0
    # s̄/c4 and R̄/d2 estimate the same σ
    assert s.centre[0] / c4(5) == pytest.approx(within_sigma_from_ranges(PISTON_RINGS), rel=0.05)


def test_tabular_cusum_example_9_1() -> None:
    upper, _, signals = cusum(CUSUM_DATA, target=10, sigma=1, k=0.5, h=5)
    assert upper[28] == pytest.approx(5.28, abs=5e-3)  # observation 29
    assert signals[0] == 28


def test_ewma_follows_its_recursion_and_exact_limits() -> None:
    chart = ewma(CUSUM_DATA, target=10, sigma=1, lam=0.1, width=2.7)
    assert chart.values[0] == pytest.approx(0.1 * 9.45 + 0.9 * 10)
    assert chart.upper[0] == pytest.approx(10 + 2.7 * 0.1)  # first limit: L·σ·λ
    assert chart.upper[-1] == pytest.approx(10.62, abs=5e-3)  # steady state
    assert chart.beyond_limits()[0] >= 20  # only after the shift


def test_attribute_charts() -> None:
    p = p_chart([10] * 20, [100] * 20)
    assert (p.centre[0], p.upper[0], p.lower[0]) == pytest.approx((0.10, 0.19, 0.01))
    low = p_chart([1] * 20, [100] * 20)
    assert low.lower[0] == 0.0  # floored at zero
    varying = p_chart([5, 8, 3], [50, 80, 40])
    assert varying.upper[0] > varying.upper[1]  # smaller sample, wider limits
    assert np_chart([10] * 20, 100).upper[0] == pytest.approx(19.0)
    assert c_chart([4] * 10).upper[0] == pytest.approx(10.0)
    assert u_chart([2, 3, 1], [100, 150, 80]).centre[0] == pytest.approx(6 / 330)
    with pytest.raises(ValueError, match="more nonconforming"):
        p_chart([5], [4])


def test_individuals_chart_uses_mr_over_d2() -> None:
    i_chart, mr = individuals([2, 4, 6, 4, 2, 4, 6, 4])
    assert i_chart.centre[0] == 4.0 and mr.centre[0] == 2.0
    assert i_chart.upper[0] == pytest.approx(4 + 3 * 2 / 1.128, abs=2e-3)
    with pytest.raises(ValueError, match="finite"):
        individuals([1.0, float("nan"), 2.0])


def _chart(values: list[float]) -> Chart:
    n = len(values)
    return Chart("x", np.array(values, float), np.zeros(n), np.full(n, -3.0), np.full(n, 3.0))


def test_run_rules_fire_where_the_pattern_completes() -> None:
    found = rules.violations(_chart([0, 3.5, 0, 2.5, 2.6, 0, 1.5, 1.2, 1.1, 1.4, -0.5]))
    assert found["WE1 one point beyond 3 sigma"] == [1]
    assert found["WE2 two of three beyond 2 sigma"] == [3, 4]  # (3.5, 0, 2.5) already counts
    assert found["WE3 four of five beyond 1 sigma"] == [7, 8, 9]
    assert rules.run_same_side(8)(_chart([0.1] * 8)) == [7]
    nelson = rules.violations(_chart([0.1 * k for k in range(7)]), rules.NELSON)
    assert nelson["N3 six in a row trending"] == [5, 6]
    alternating = _chart([(-1) ** k * 0.2 for k in range(14)])
    assert rules.violations(alternating, rules.NELSON)["N4 fourteen alternating"] == [13]
    assert rules.violations(_chart([0.0] * 10)) == {}


def test_capability_and_bissell_interval() -> None:
    rng = np.random.default_rng(0)
    data = rng.normal(74.0, 0.01, 125)
    result = capability(data, 73.95, 74.05, sigma_within=within_sigma_from_ranges(PISTON_RINGS))
    assert result.cp is not None and result.cp.lower < result.cp.value < result.cp.upper
    assert result.ppk.value <= result.pp.value  # type: ignore[union-attr]
    # §8.3.5: n = 20 and Ĉpk = 1.33 give 0.88 ≤ Cpk ≤ 1.78 at 95 %.
    from dure.models.spc.capability import _bissell

    interval = _bissell(1.33, 20, 0.95)
    assert (interval.lower, interval.upper) == pytest.approx((0.88, 1.78), abs=5e-3)
    one_sided = capability(data, None, 74.05)
    assert one_sided.cp is None and one_sided.cpk.value > 0
    with pytest.raises(ValueError, match="specification"):
        capability(data, None, None)
