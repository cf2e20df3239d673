"""Sensor readings: bulk writes at full speed (SQLite multi-row inserts, PostgreSQL COPY)."""

from __future__ import annotations

import itertools
import sqlite3
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from sqlalchemy import Connection, func, select, true

from dure.domain.live_checks import SubjectKind
from dure.domain.records import SensorReading
from dure.domain.users import Role
from dure.errors import Forbidden, InvalidInput
from dure.store.repositories.live_checks import mark_pending
from dure.store.repositories.plant import SensorChannelRepository
from dure.store.tables import channel_key, sensor_channels, sensor_readings

# Rows per INSERT statement: SQLite before 3.32 allows 999 bound values, later 32766.
_ROWS_PER_INSERT = 5000 if sqlite3.sqlite_version_info >= (3, 32) else 333


@dataclass(frozen=True)
class ReadingColumns:
    """Readings as columns: channel index per row into ``channel_ids``, time, value."""

    channel_ids: Sequence[str]
    channel_index: np.ndarray  # int32, one per row
    ts_us: np.ndarray  # int64, microseconds since the epoch, UTC
    values: np.ndarray  # float64, finite

    def __len__(self) -> int:
        return int(self.ts_us.shape[0])

    def keys(self) -> np.ndarray:
        """The integer channel key of every row."""
        table = np.array([channel_key(c) if c else 0 for c in self.channel_ids], dtype=np.int64)
        return table[self.channel_index] if len(table) else np.zeros(0, np.int64)


class SensorReadingRepository:
    """Readings of channels the caller owns (writes) or may see (reads)."""

    def __init__(self, channels: SensorChannelRepository) -> None:
        self.channels = channels
        self.conn: Connection = channels.conn
        self.caller = channels.caller

    def insert(self, columns: ReadingColumns) -> int:
        """Insert readings of the caller's own channels; returns how many were new."""
        if not self.caller.can(Role.OPERATOR):
            raise Forbidden("writing sensor readings needs the operator role or higher")
        used = np.unique(columns.channel_index).tolist() if len(columns) else []
        self._require_own_channels([columns.channel_ids[i] for i in used])
        if len(columns) == 0:
            return 0
        keys = columns.keys()
        if self.conn.dialect.name == "postgresql":
            new = _copy_postgres(self.conn, keys, columns.ts_us, columns.values)
        else:
            new = _insert_sqlite(self.conn, keys, columns.ts_us, columns.values)
        # the live checks of these channels run on what was just written
        oldest = np.full(len(columns.channel_ids), np.iinfo(np.int64).max, dtype=np.int64)
        np.minimum.at(oldest, columns.channel_index, columns.ts_us)
        mark_pending(
            self.conn,
            self.caller.org_id,
            SubjectKind.CHANNEL,
            [columns.channel_ids[i] for i in used],
            {columns.channel_ids[i]: int(oldest[i]) for i in used},
        )
        return new

    def _require_own_channels(self, channel_ids: Sequence[str]) -> None:
        wanted = set(channel_ids)
        found: set[str] = set()
        ids = list(wanted)
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            found.update(
                self.conn.execute(
                    select(sensor_channels.c.id).where(
                        sensor_channels.c.id.in_(chunk),
                        sensor_channels.c.org_id == self.caller.org_id,
                    )
                ).scalars()
            )
        missing = sorted(wanted - found)
        if missing:
            raise InvalidInput("channel_id", f"{missing[0]!r} is not one of your sensor channels")

    def read(
        self, channel_id: str, start_us: int | None, end_us: int | None, limit: int
    ) -> list[SensorReading]:
        """Readings of one visible channel in ``[start_us, end_us)``, oldest first."""
        self.channels.get(channel_id)  # NotFound unless visible; audits a shared read
        r = sensor_readings.c
        query = select(r.ts_us, r.value).where(r.channel_key == channel_key(channel_id))
        if start_us is not None:
            query = query.where(r.ts_us >= start_us)
        if end_us is not None:
            query = query.where(r.ts_us < end_us)
        rows = self.conn.execute(query.order_by(r.ts_us).limit(limit)).all()
        return [SensorReading(channel_id, row.ts_us, row.value) for row in rows]

    def latest(self, channel_id: str, limit: int) -> list[SensorReading]:
        """The newest ``limit`` readings of a visible channel, oldest first."""
        self.channels.get(channel_id)
        r = sensor_readings.c
        rows = self.conn.execute(
            select(r.ts_us, r.value)
            .where(r.channel_key == channel_key(channel_id))
            .order_by(r.ts_us.desc())
            .limit(limit)
        ).all()
        return [SensorReading(channel_id, row.ts_us, row.value) for row in reversed(rows)]

    def arrays(
        self, channel_id: str, limit: int, *, newest: bool = False, since_us: int | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """The first (or, with ``newest``, the newest) ``limit`` readings of a visible
        channel (those at or after ``since_us`` when given) as arrays (int64 microseconds,
        float64 values), oldest first: for models that read thousands of readings at once
        without a Python object each."""
        self.channels.get(channel_id)
        r = sensor_readings.c
        order = r.ts_us.desc() if newest else r.ts_us
        since = r.ts_us >= since_us if since_us is not None else true()
        rows = self.conn.execute(
            select(r.ts_us, r.value)
            .where(r.channel_key == channel_key(channel_id), since)
            .order_by(order)
            .limit(limit)
        ).all()
        ts = np.fromiter((row[0] for row in rows), dtype=np.int64, count=len(rows))
        values = np.fromiter((row[1] for row in rows), dtype=np.float64, count=len(rows))
        return (ts[::-1].copy(), values[::-1].copy()) if newest else (ts, values)

    def bucket_means(
        self, channel_id: str, start_us: int, end_us: int, step_us: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """The mean of a visible channel's readings in each ``step_us`` bucket of
        ``[start_us, end_us)``, computed by the database: (bucket numbers from 0 at
        ``start_us``, means), oldest first; buckets without readings are left out."""
        if step_us < 1:
            raise InvalidInput("step_us", "must be at least one microsecond")
        self.channels.get(channel_id)
        r = sensor_readings.c
        bucket = ((r.ts_us - start_us) // step_us).label("bucket")
        rows = self.conn.execute(
            select(bucket, func.avg(r.value))
            .where(r.channel_key == channel_key(channel_id), r.ts_us >= start_us, r.ts_us < end_us)
            .group_by(bucket)
            .order_by(bucket)
        ).all()
        numbers = np.fromiter((int(row[0]) for row in rows), dtype=np.int64, count=len(rows))
        means = np.fromiter((float(row[1]) for row in rows), dtype=np.float64, count=len(rows))
        return numbers, means

    def first_ts_us(self, channel_id: str) -> int | None:
        """The time of a visible channel's oldest stored reading (None when it has none)."""
        self.channels.get(channel_id)
        r = sensor_readings.c
        return self.conn.execute(
            select(func.min(r.ts_us)).where(r.channel_key == channel_key(channel_id))
        ).scalar()

    def latest_ts_us(self, channel_id: str) -> int | None:
        """The time of an own channel's newest stored reading (None when it has none)."""
        self._require_own_channels([channel_id])
        r = sensor_readings.c
        return self.conn.execute(
            select(r.ts_us)
            .where(r.channel_key == channel_key(channel_id))
            .order_by(r.ts_us.desc())
            .limit(1)
        ).scalar()


def _insert_sqlite(
    conn: Connection, keys: np.ndarray, ts_us: np.ndarray, values: np.ndarray
) -> int:
    raw = conn.connection.driver_connection
    before = raw.total_changes
    cur = raw.cursor()
    insert = "INSERT OR IGNORE INTO sensor_readings (channel_key, ts_us, value) VALUES "
    many = insert + ",".join(["(?,?,?)"] * _ROWS_PER_INSERT)
    step = 3 * _ROWS_PER_INSERT
    # SQLite releases the GIL while it writes, so a helper thread turns the next chunk
    # into Python values meanwhile: on two cores this hides most of the conversion.
    chunks = range(0, len(ts_us), _CHUNK_ROWS)
    with ThreadPoolExecutor(max_workers=1) as helper:
        pending = helper.submit(_flat_rows, keys, ts_us, values, 0)
        for start in chunks:
            flat = pending.result()
            if start + _CHUNK_ROWS < len(ts_us):
                pending = helper.submit(_flat_rows, keys, ts_us, values, start + _CHUNK_ROWS)
            full = len(flat) - len(flat) % step
            for offset in range(0, full, step):
                cur.execute(many, flat[offset : offset + step])
            if full < len(flat):
                rest = flat[full:]
                cur.execute(insert + ",".join(["(?,?,?)"] * (len(rest) // 3)), rest)
    cur.close()
    return int(raw.total_changes - before)


_CHUNK_ROWS = 20 * _ROWS_PER_INSERT


def _flat_rows(keys: np.ndarray, ts_us: np.ndarray, values: np.ndarray, start: int) -> list[object]:
    stop = start + _CHUNK_ROWS
    return list(
        itertools.chain.from_iterable(
            zip(
                keys[start:stop].tolist(),
                ts_us[start:stop].tolist(),
                values[start:stop].tolist(),
                strict=True,
            )
        )
    )


def _copy_postgres(
    conn: Connection, keys: np.ndarray, ts_us: np.ndarray, values: np.ndarray
) -> int:
    raw = conn.connection.driver_connection
    with raw.cursor() as cur:
        # Straight into the table when nothing stored can clash (the common case of new
        # data); otherwise through a temporary table and ON CONFLICT DO NOTHING.
        if not _overlaps_stored(cur, keys, ts_us):
            cur.execute("SAVEPOINT bulk_readings")
            try:
                _copy(cur, "sensor_readings", keys, ts_us, values)
                cur.execute("RELEASE SAVEPOINT bulk_readings")
                return len(ts_us)
            except Exception as exc:  # a concurrent writer stored some of these meanwhile
                if getattr(exc, "sqlstate", None) != "23505":
                    raise
                cur.execute("ROLLBACK TO SAVEPOINT bulk_readings")
        cur.execute(
            "CREATE TEMP TABLE IF NOT EXISTS incoming_readings "
            "(channel_key bigint, ts_us bigint, value double precision) ON COMMIT DELETE ROWS"
        )
        cur.execute("TRUNCATE incoming_readings")
        _copy(cur, "incoming_readings", keys, ts_us, values)
        cur.execute(
            "INSERT INTO sensor_readings (channel_key, ts_us, value) "
            "SELECT channel_key, ts_us, value FROM incoming_readings "
            "ON CONFLICT (channel_key, ts_us) DO NOTHING"
        )
        inserted = cur.rowcount
        cur.execute("TRUNCATE incoming_readings")
    return int(inserted)


def _overlaps_stored(cur, keys: np.ndarray, ts_us: np.ndarray) -> bool:  # type: ignore[no-untyped-def]
    for key in np.unique(keys).tolist():
        mine = ts_us[keys == key]
        cur.execute(
            "SELECT 1 FROM sensor_readings "
            "WHERE channel_key = %s AND ts_us BETWEEN %s AND %s LIMIT 1",
            (key, int(mine.min()), int(mine.max())),
        )
        if cur.fetchone() is not None:
            return True
    return False


def _copy(cur, table: str, keys: np.ndarray, ts_us: np.ndarray, values: np.ndarray) -> None:  # type: ignore[no-untyped-def]
    sql = f"COPY {table} (channel_key, ts_us, value) FROM STDIN WITH (FORMAT binary)"
    with cur.copy(sql) as copy:
        copy.write(_BINARY_HEADER)
        for block in _binary_blocks(keys, ts_us, values):
            copy.write(block)
        copy.write(b"\xff\xff")  # end of data


# PostgreSQL's binary COPY: a fixed header, then per row the field count and each field
# as (length, big-endian value); numpy lays a whole block out in one step.
_BINARY_HEADER = b"PGCOPY\n\xff\r\n\x00" + b"\x00" * 8
_ROW = np.dtype(
    [
        ("n", ">i2"),
        ("lk", ">i4"),
        ("k", ">i8"),
        ("lt", ">i4"),
        ("t", ">i8"),
        ("lv", ">i4"),
        ("v", ">f8"),
    ]
)


def _binary_blocks(
    keys: np.ndarray, ts_us: np.ndarray, values: np.ndarray, block_rows: int = 250_000
) -> Iterator[bytes]:
    for start in range(0, len(ts_us), block_rows):
        stop = min(start + block_rows, len(ts_us))
        rows = np.empty(stop - start, dtype=_ROW)
        rows["n"], rows["lk"], rows["lt"], rows["lv"] = 3, 8, 8, 8
        rows["k"], rows["t"], rows["v"] = keys[start:stop], ts_us[start:stop], values[start:stop]
        yield rows.tobytes()
