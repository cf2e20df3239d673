"""Sensor-reading files: parsing, bad rows named by file/row/column, all-or-nothing imports."""

from __future__ import annotations

import io

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlalchemy import func, select

from dure.domain.users import Caller, Role
from dure.errors import InvalidInput, RejectedFile
from dure.ingest.sensor_files import parse_sensor_file
from dure.services.imports.files import import_sensor_file
from dure.store.session import Store
from dure.store.tables import sensor_readings
from tests.factories import World

GOOD = (
    b"asset,channel,time,value,unit\n"
    b"press,vib,2026-02-01T00:00:00Z,1.5,mm/s\n"
    b"press,vib,2026-02-01T09:00:01+09:00,1.6,mm/s\n"
    b"press,current,2026-02-01 00:00:02,40.2,A\n"
)


def _caller(world: World, role: Role = Role.ENGINEER) -> Caller:
    return Caller(org_id=world.a.org.id, user_id=None, role=role, org_kind="supplier")


def _count(store: Store) -> int:
    with store.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(sensor_readings)).scalar_one())


def test_times_with_offsets_and_naive_utc_are_parsed() -> None:
    parsed = parse_sensor_file(GOOD, "good.csv")
    assert parsed.errors.count == 0
    assert parsed.ts_us.tolist() == [1769904000000000, 1769904001000000, 1769904002000000]
    assert parsed.pairs == [("press", "vib", "mm/s"), ("press", "current", "A")]


@pytest.mark.parametrize(
    ("body", "row", "column", "reason"),
    [
        (b"press,vib,yesterday,1,mm/s\n", 2, "time", "not an ISO 8601 time"),
        (b"press,vib,2026-02-01T00:00:05Z,abc,mm/s\n", 2, "value", "'abc' is not a number"),
        (b"press,vib,2026-02-01T00:00:05Z,nan,mm/s\n", 2, "value", "not a finite number"),
        (b"press,vib,2026-02-01T00:00:05Z,inf,mm/s\n", 2, "value", "not a finite number"),
        (b"press,vib,2026-02-01T00:00:05Z,,mm/s\n", 2, "value", "empty"),
        (b",vib,2026-02-01T00:00:05Z,1,mm/s\n", 2, "asset", "asset is empty"),
        (b"press,vib,2026-02-01T00:00:00Z,9,mm/s\n", 2, "time", "duplicate reading"),
        (b"press,vib,2026-02-01T00:00:07Z,9,g\n", 2, "unit", "differs"),
    ],
)
def test_bad_cells_are_named_by_row_and_column(
    body: bytes, row: int, column: str, reason: str
) -> None:
    data = b"asset,channel,time,value,unit\npress,vib,2026-02-01T00:00:00Z,1.5,mm/s\n" + body
    parsed = parse_sensor_file(data, "bad.csv")
    assert parsed.errors.count == 1
    message = parsed.errors.messages[0]
    assert (message.file, message.row, message.column) == ("bad.csv", row, column)
    assert reason in message.reason


@pytest.mark.parametrize(
    ("data", "name", "match"),
    [
        (b"asset,channel,time\npress,vib,2026-01-01T00:00:00Z\n", "x.csv", "missing column"),
        (
            b"asset,channel,time,value,colour\npress,vib,2026-01-01T00:00:00Z,1,red\n",
            "x.csv",
            "unknown column",
        ),
        (b"asset,channel,time,value\n", "x.csv", "no rows"),
        (b"", "x.csv", "empty"),
        (
            b'asset,channel,time,value\npress,"vib,2026-01-01T00:00:00Z,1\n',
            "x.csv",
            "malformed CSV",
        ),
        (b"asset,channel,time,value\npress,vib,2026,1,2,3\n", "x.csv", "malformed CSV"),
        (b"asset,asset,time,value\n", "x.csv", "appears twice"),
        (b"\x89PNG not a table", "x.parquet", "not a readable Parquet"),
        (b"a,b\n", "x.xlsx", "use a .csv or .parquet"),
    ],
)
def test_unusable_files_are_refused_whole(data: bytes, name: str, match: str) -> None:
    with pytest.raises(InvalidInput, match=match):
        parse_sensor_file(data, name)


def test_parquet_with_typed_columns_is_read() -> None:
    table = pa.table(
        {
            "asset": ["press"],
            "channel": ["vib"],
            "time": pa.array([1769904000000000], type=pa.timestamp("us", tz="UTC")),
            "value": [2.5],
        }
    )
    buf = io.BytesIO()
    pq.write_table(table, buf)
    parsed = parse_sensor_file(buf.getvalue(), "r.parquet")
    assert parsed.errors.count == 0 and parsed.values.tolist() == [2.5]


def test_reject_policy_stores_nothing_when_any_row_is_bad(store: Store, world: World) -> None:
    before = _count(store)
    bad = GOOD + b"press,vib,not-a-time,1,mm/s\n"
    with pytest.raises(RejectedFile, match=r"row 4, column 'time'") as caught:
        with store.session(_caller(world)) as s:
            import_sensor_file(s, bad, "bad.csv")
    assert caught.value.errors[0]["row"] == 4
    assert _count(store) == before
    with store.session(_caller(world)) as s:  # no channel was half-created either
        assert "current" not in {c.name for c in s.channels.list().items}


def test_skip_policy_keeps_good_rows_and_reports_bad_ones(store: Store, world: World) -> None:
    before = _count(store)
    bad = GOOD + b"press,vib,not-a-time,1,mm/s\n"
    with store.session(_caller(world)) as s:
        result = import_sensor_file(s, bad, "bad.csv", on_error="skip")
    assert (result.rows_new, result.batch.rows_rejected) == (3, 1)
    assert result.batch.errors[0]["column"] == "time"
    assert _count(store) == before + 3


def test_importing_the_same_file_twice_adds_nothing(store: Store, world: World) -> None:
    with store.session(_caller(world)) as s:
        first = import_sensor_file(s, GOOD, "good.csv")
    after_first = _count(store)
    with store.session(_caller(world)) as s:
        again = import_sensor_file(s, GOOD, "good-copy.csv")
    assert first.rows_new == 3 and again.already_imported and _count(store) == after_first
    # an overlapping file with one new row adds just that row
    with store.session(_caller(world)) as s:
        overlap = import_sensor_file(
            s, GOOD + b"press,vib,2026-02-01T00:00:09Z,2,mm/s\n", "more.csv"
        )
    assert overlap.rows_new == 1


def test_unknown_asset_is_a_row_error(store: Store, world: World) -> None:
    data = b"asset,channel,time,value\nlathe,vib,2026-02-01T00:00:00Z,1\n"
    with pytest.raises(RejectedFile, match="no asset named 'lathe'"):
        with store.session(_caller(world)) as s:
            import_sensor_file(s, data, "x.csv")


def test_an_operator_cannot_create_channels_by_importing(store: Store, world: World) -> None:
    data = b"asset,channel,time,value\npress,torque,2026-02-01T00:00:00Z,1\n"
    with pytest.raises(RejectedFile, match="has no channel 'torque'; an engineer can add it"):
        with store.session(_caller(world, Role.OPERATOR)) as s:
            import_sensor_file(s, data, "x.csv")
    data = b"asset,channel,time,value\npress,vib,2026-02-01T00:00:00Z,1\n"
    with store.session(_caller(world, Role.OPERATOR)) as s:  # known channels are fine
        assert import_sensor_file(s, data, "y.csv").rows_new == 1
