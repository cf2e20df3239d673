"""Helpers for checking a series that arrives piece by piece: gaps and the kept tail."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

# A pause longer than this many usual intervals is a gap: the run rules and the anomaly
# smoothing start afresh after it (a machine stopped and started again is not a trend).
GAP_INTERVALS = 10.0


def usual_interval_us(ts_us: Sequence[int]) -> int:
    """The median time between readings (1 s when it cannot be told)."""
    steps = np.diff(np.asarray(ts_us, dtype=np.int64))
    steps = steps[steps > 0]
    return int(np.median(steps)) if len(steps) else 1_000_000


def segments(ts_us: Sequence[int], interval_us: int) -> list[tuple[int, int]]:
    """``[start, end)`` index ranges of the series between gaps."""
    n = len(ts_us)
    if n == 0:
        return []
    steps = np.diff(np.asarray(ts_us, dtype=np.int64))
    cuts = (np.flatnonzero(steps > GAP_INTERVALS * max(interval_us, 1)) + 1).tolist()
    edges = [0, *cuts, n]
    return list(zip(edges[:-1], edges[1:], strict=True))
