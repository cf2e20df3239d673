"""Readings of one sensor channel sent over the API (live connectors have their own sink)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from dure.store.repositories.sensor_readings import ReadingColumns
from dure.store.session import Session


def add_channel_readings(
    session: Session, channel_id: str, readings: Sequence[tuple[int | None, float]]
) -> int:
    """Store (time in µs since the epoch, value) pairs of one of the caller's channels;
    a time already stored is ignored. Returns how many were new (audited)."""
    n = len(readings)
    columns = ReadingColumns(
        [channel_id],
        np.zeros(n, dtype=np.int32),
        np.array([ts for ts, _ in readings], dtype=np.int64),
        np.array([value for _, value in readings], dtype=np.float64),
    )
    new = session.readings.insert(columns)
    session.audit.record("create", "sensor_readings", channel_id, detail={"rows_new": new})
    return new
