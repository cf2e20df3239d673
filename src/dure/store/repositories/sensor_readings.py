"""Sensor readings: bulk writes at full speed (SQLite executemany, PostgreSQL COPY) and reads."""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sqlalchemy import Connection, select

from dure.domain.records import SensorReading
from dure.domain.users import Role
from dure.errors import Forbidden, InvalidInput
from dure.store.repositories.plant import SensorChannelRepository
from dure.store.tables import sensor_channels, sensor_readings


@dataclass(frozen=True)
class ReadingColumns:
    """Readings as columns: channel index per row into ``channel_ids``, time, value."""

    channel_ids: Sequence[str]
    channel_index: np.ndarray  # int32, one per row
    ts_us: np.ndarray  # int64, microseconds since the epoch, UTC
    values: np.ndarray  # float64, finite

    def __len__(self) -> int:
        return int(self.ts_us.shape[0])


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
        self._require_own_channels(columns.channel_ids)
        if len(columns) == 0:
            return 0
        if self.conn.dialect.name == "postgresql":
            return _copy_postgres(self.conn, columns)
        return _insert_sqlite(self.conn, columns)

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
        query = select(r.channel_id, r.ts_us, r.value).where(r.channel_id == channel_id)
        if start_us is not None:
            query = query.where(r.ts_us >= start_us)
        if end_us is not None:
            query = query.where(r.ts_us < end_us)
        rows = self.conn.execute(query.order_by(r.ts_us).limit(limit)).all()
        return [SensorReading(row.channel_id, row.ts_us, row.value) for row in rows]


def _insert_sqlite(conn: Connection, columns: ReadingColumns) -> int:
    raw = conn.connection.driver_connection
    before = raw.total_changes
    names = list(columns.channel_ids)
    rows = zip(
        [names[i] for i in columns.channel_index.tolist()],
        columns.ts_us.tolist(),
        columns.values.tolist(),
        strict=True,
    )
    cur = raw.cursor()
    cur.executemany(
        "INSERT OR IGNORE INTO sensor_readings (channel_id, ts_us, value) VALUES (?, ?, ?)", rows
    )
    cur.close()
    return int(raw.total_changes - before)


def _copy_postgres(conn: Connection, columns: ReadingColumns) -> int:
    raw = conn.connection.driver_connection
    with raw.cursor() as cur:
        cur.execute(
            "CREATE TEMP TABLE IF NOT EXISTS incoming_readings "
            "(channel_id varchar(32), ts_us bigint, value double precision) ON COMMIT DELETE ROWS"
        )
        cur.execute("TRUNCATE incoming_readings")
        with cur.copy("COPY incoming_readings (channel_id, ts_us, value) FROM STDIN") as copy:
            for block in _tsv_blocks(columns):
                copy.write(block)
        cur.execute(
            "INSERT INTO sensor_readings (channel_id, ts_us, value) "
            "SELECT channel_id, ts_us, value FROM incoming_readings "
            "ON CONFLICT (channel_id, ts_us) DO NOTHING"
        )
        inserted = cur.rowcount
        cur.execute("TRUNCATE incoming_readings")
    return int(inserted)


def _tsv_blocks(columns: ReadingColumns, block_rows: int = 200_000):  # type: ignore[no-untyped-def]
    names = np.asarray(list(columns.channel_ids), dtype=object)
    for start in range(0, len(columns), block_rows):
        stop = start + block_rows
        chan = names[columns.channel_index[start:stop]]
        ts = columns.ts_us[start:stop]
        val = columns.values[start:stop]
        buf = io.StringIO()
        buf.writelines(
            f"{c}\t{t}\t{v!r}\n" for c, t, v in zip(chan.tolist(), ts.tolist(), val.tolist(), strict=True)
        )
        yield buf.getvalue().encode()
