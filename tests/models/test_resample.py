"""Irregular readings onto a regular grid: the step chosen from the data, gaps carried."""

from __future__ import annotations

import numpy as np
import pytest

from dure.errors import InvalidInput
from dure.models.timeseries.resample import grid_step, regular_grid


def test_the_step_is_the_median_interval_times_the_k_that_keeps_runs_short() -> None:
    # readings every 2 s with a few long gaps; runs of 10 h and 30 h (median 20 h)
    intervals = np.array([2.0] * 99 + [3600.0])
    assert grid_step(intervals, np.array([36_000.0, 108_000.0, 72_000.0]), 120) == 600.0
    # short runs: never finer than the data
    assert grid_step(np.array([3600.0, 3600.0]), np.array([7200.0]), 120) == 3600.0
    with pytest.raises(InvalidInput) as info:
        grid_step(np.array([]), np.array([100.0]), 120)
    assert info.value.field == "histories"


def test_empty_buckets_repeat_the_one_before_and_a_missing_channel_is_none() -> None:
    vibration = (np.array([1, 2, 5]), np.array([10.0, 20.0, 50.0]))
    current = (np.array([0, 3, 9]), np.array([1.0, 4.0, 99.0]))  # bucket 9 lies outside
    grid = regular_grid([vibration, current], rows=6)
    assert grid is not None
    np.testing.assert_array_equal(grid[:, 0], [10, 10, 20, 20, 20, 50])
    np.testing.assert_array_equal(grid[:, 1], [1, 1, 1, 4, 4, 4])
    assert regular_grid([vibration, (np.array([7]), np.array([1.0]))], rows=6) is None
