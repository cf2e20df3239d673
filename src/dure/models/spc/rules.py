"""Run rules on a control chart: Western Electric and Nelson.

Each rule returns the indices of the points at which it fires (the last point of the
run that completes the pattern), so an alert can name the sample.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from dure.models.spc.charts import Chart


def _zones(chart: Chart) -> np.ndarray:
    """Signed distance of each point from the centre line in sigmas of the statistic."""
    sigma = np.where(chart.sigma > 0, chart.sigma, np.inf)
    return (chart.values - chart.centre) / sigma


def _k_of_m(z: np.ndarray, k: int, m: int, beyond: float) -> list[int]:
    hits = []
    for end in range(m - 1, len(z)):
        window = z[end - m + 1 : end + 1]
        for side in (1, -1):
            if side * z[end] > beyond and np.sum(side * window > beyond) >= k:
                hits.append(end)
                break
    return hits


def _run(condition: np.ndarray, length: int) -> list[int]:
    hits, count = [], 0
    for i, flag in enumerate(condition):
        count = count + 1 if flag else 0
        if count >= length:
            hits.append(i)
    return hits


def beyond_three_sigma(chart: Chart) -> list[int]:
    """One point beyond the control limits."""
    return chart.beyond_limits().tolist()  # type: ignore[no-any-return]


def two_of_three_beyond_two(chart: Chart) -> list[int]:
    """Two of three successive points beyond 2σ on the same side."""
    return _k_of_m(_zones(chart), 2, 3, 2.0)


def four_of_five_beyond_one(chart: Chart) -> list[int]:
    """Four of five successive points beyond 1σ on the same side."""
    return _k_of_m(_zones(chart), 4, 5, 1.0)


def run_same_side(length: int) -> Callable[[Chart], list[int]]:
    """``length`` points in a row on the same side of the centre line."""

    def rule(chart: Chart) -> list[int]:
        z = _zones(chart)
        return sorted(set(_run(z > 0, length)) | set(_run(z < 0, length)))

    return rule


def trend(length: int = 6) -> Callable[[Chart], list[int]]:
    """``length`` points in a row steadily increasing or decreasing."""

    def rule(chart: Chart) -> list[int]:
        step = np.diff(chart.values)
        up = [i + 1 for i in _run(step > 0, length - 1)]
        down = [i + 1 for i in _run(step < 0, length - 1)]
        return sorted(set(up) | set(down))

    return rule


def alternating(chart: Chart, length: int = 14) -> list[int]:
    """``length`` points in a row alternating up and down."""
    step = np.sign(np.diff(chart.values))
    flips = np.r_[False, (step[1:] * step[:-1]) < 0]
    return [i + 1 for i in _run(flips, length - 2)]


def hugging_centre(chart: Chart, length: int = 15) -> list[int]:
    """``length`` points in a row within 1σ of the centre line (either side)."""
    return _run(np.abs(_zones(chart)) < 1, length)


def avoiding_centre(chart: Chart, length: int = 8) -> list[int]:
    """``length`` points in a row beyond 1σ, on either side."""
    return _run(np.abs(_zones(chart)) > 1, length)


WESTERN_ELECTRIC: dict[str, Callable[[Chart], list[int]]] = {
    "WE1 one point beyond 3 sigma": beyond_three_sigma,
    "WE2 two of three beyond 2 sigma": two_of_three_beyond_two,
    "WE3 four of five beyond 1 sigma": four_of_five_beyond_one,
    "WE4 eight in a row on one side": run_same_side(8),
}

NELSON: dict[str, Callable[[Chart], list[int]]] = {
    "N1 one point beyond 3 sigma": beyond_three_sigma,
    "N2 nine in a row on one side": run_same_side(9),
    "N3 six in a row trending": trend(6),
    "N4 fourteen alternating": alternating,
    "N5 two of three beyond 2 sigma": two_of_three_beyond_two,
    "N6 four of five beyond 1 sigma": four_of_five_beyond_one,
    "N7 fifteen within 1 sigma": hugging_centre,
    "N8 eight in a row beyond 1 sigma": avoiding_centre,
}


def violations(
    chart: Chart, rules: dict[str, Callable[[Chart], list[int]]] | None = None
) -> dict[str, list[int]]:
    """Every rule that fires, with the point indices where it does (Western Electric default)."""
    chosen = WESTERN_ELECTRIC if rules is None else rules
    found = {name: rule(chart) for name, rule in chosen.items()}
    return {name: hits for name, hits in found.items() if hits}


# Short codes for the rules a live check can be set to watch (the domain's SPC_RULES).
RULES_BY_CODE: dict[str, Callable[[Chart], list[int]]] = {
    "WE1": beyond_three_sigma,
    "WE2": two_of_three_beyond_two,
    "WE3": four_of_five_beyond_one,
    "WE4": run_same_side(8),
    "N2": run_same_side(9),
    "N3": trend(6),
    "N4": alternating,
    "N7": hugging_centre,
    "N8": avoiding_centre,
}
RULE_NAMES: dict[str, str] = {
    "WE1": "WE1 one point beyond 3 sigma",
    "WE2": "WE2 two of three beyond 2 sigma",
    "WE3": "WE3 four of five beyond 1 sigma",
    "WE4": "WE4 eight in a row on one side",
    "N2": "N2 nine in a row on one side",
    "N3": "N3 six in a row trending",
    "N4": "N4 fourteen alternating",
    "N7": "N7 fifteen within 1 sigma",
    "N8": "N8 eight in a row beyond 1 sigma",
}
# How many earlier points a rule looks back over (the tail a live check keeps).
LOOKBACK = 15
