"""Bulk reading writes: exact round trip, de-duplication on overlap, ownership."""

from __future__ import annotations

import numpy as np
import pytest

from dure.domain.users import Caller, Role
from dure.errors import InvalidInput, NotFound
from dure.store.repositories.sensor_readings import ReadingColumns
from dure.store.session import Store
from tests.factories import World


def _caller(company, role: Role = Role.OPERATOR) -> Caller:  # type: ignore[no-untyped-def]
    return Caller(org_id=company.org.id, user_id=None, role=role, org_kind="supplier")


def test_readings_round_trip_exactly_and_overlaps_add_nothing(store: Store, world: World) -> None:
    channel = world.a.ids["channel"]
    rng = np.random.default_rng(1)
    n = 12_345  # not a multiple of any batch size
    ts = 1_800_000_000_000_000 + np.arange(n, dtype=np.int64) * 1000
    values = rng.normal(0, 1e3, n) * np.exp(rng.normal(0, 5, n))
    cols = ReadingColumns([channel], np.zeros(n, np.int32), ts, values)
    with store.session(_caller(world.a)) as s:
        assert s.readings.insert(cols) == n
    half = n // 2
    overlap = ReadingColumns([channel], np.zeros(n, np.int32), ts + half * 1000, values)
    with store.session(_caller(world.a)) as s:
        assert s.readings.insert(overlap) == half  # only the part beyond the stored range
        got = s.readings.read(channel, int(ts[0]), None, 100_000)
    assert len(got) == n + half
    assert [r.value for r in got[:n]] == values.tolist()
    assert [r.ts_us for r in got[:n]] == ts.tolist()
    with store.session(_caller(world.a)) as s:
        first_ts, first_values = s.readings.arrays(channel, 100)
        last_ts, last_values = s.readings.arrays(channel, 100, newest=True)
        newest = s.readings.latest(channel, 100)
        oldest = s.readings.read(channel, None, None, 100)
    assert first_ts.tolist() == [r.ts_us for r in oldest]
    assert first_values.tolist() == [r.value for r in oldest]
    assert last_ts.tolist() == [r.ts_us for r in newest]
    assert last_values.tolist() == [r.value for r in newest]


def test_foreign_readings_cannot_be_written_or_read(store: Store, world: World) -> None:
    cols = ReadingColumns(
        [world.b.ids["channel"]], np.zeros(1, np.int32), np.array([5], np.int64), np.array([1.0])
    )
    with store.session(_caller(world.a)) as s:
        with pytest.raises(InvalidInput, match="not one of your sensor channels"):
            s.readings.insert(cols)
        with pytest.raises(NotFound):
            s.readings.read(world.b.ids["channel"], None, None, 10)
        with pytest.raises(NotFound):
            s.readings.arrays(world.b.ids["channel"], 10)
