"""Irregular sensor readings onto a regular time grid, so one row is a fixed duration.

Run-to-failure models count life in cycles; for machines whose readings come at uneven
times (a live feed every few seconds, hourly imports, gaps) a cycle is one grid step and
a row holds each channel's mean over that step.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from dure.errors import InvalidInput


def grid_step(intervals: np.ndarray, durations: np.ndarray, target_rows: int) -> float:
    """A grid step (in the unit of the inputs): the median reading interval times a whole
    ``k``, the smallest that keeps the median history at or under ``target_rows`` rows
    (``k`` = 1 when the histories are already short: a step is never finer than the data).
    """
    intervals = np.asarray(intervals, dtype=np.float64)
    durations = np.asarray(durations, dtype=np.float64)
    intervals = intervals[np.isfinite(intervals) & (intervals > 0)]
    durations = durations[np.isfinite(durations) & (durations > 0)]
    if intervals.size == 0 or durations.size == 0:
        raise InvalidInput("histories", "need readings at two or more times to choose a step")
    if target_rows < 1:
        raise InvalidInput("target_rows", "must be at least 1")
    base = float(np.median(intervals))
    k = max(1, int(np.ceil(float(np.median(durations)) / (base * target_rows))))
    return base * k


def regular_grid(columns: Sequence[tuple[np.ndarray, np.ndarray]], rows: int) -> np.ndarray | None:
    """A (rows, channels) array from each channel's (bucket numbers, bucket means).

    A bucket without readings takes the channel's previous value (the first ones its
    first value); buckets outside ``[0, rows)`` are ignored. None when a channel has no
    reading in the grid at all (the rows cannot be aligned).
    """
    out = np.empty((rows, len(columns)), dtype=np.float64)
    for c, (numbers, means) in enumerate(columns):
        numbers = np.asarray(numbers, dtype=np.int64)
        inside = (numbers >= 0) & (numbers < rows)
        numbers, values = numbers[inside], np.asarray(means, dtype=np.float64)[inside]
        if numbers.size == 0:
            return None
        # for every row, the last bucket at or before it that has readings
        last = np.searchsorted(numbers, np.arange(rows), side="right") - 1
        out[:, c] = values[np.maximum(last, 0)]
    return out
