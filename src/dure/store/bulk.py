"""Fast multi-row inserts below SQLAlchemy, for the hot paths of live ingestion."""

from __future__ import annotations

import itertools
import sqlite3
from collections.abc import Sequence

from sqlalchemy import Connection, Table, insert

# SQLite before 3.32 allows 999 bound values per statement, later 32766.
_MAX_VALUES = 32766 if sqlite3.sqlite_version_info >= (3, 32) else 999


def insert_rows(conn: Connection, table: Table, columns: Sequence[str], rows: list[tuple]) -> None:  # type: ignore[type-arg]
    """Insert ``rows`` (tuples in ``columns`` order): on SQLite as a few multi-row
    statements on the driver connection (several times faster than executemany), on
    other databases through SQLAlchemy's executemany."""
    if not rows:
        return
    if conn.dialect.name != "sqlite":
        conn.execute(insert(table), [dict(zip(columns, row, strict=True)) for row in rows])
        return
    width = len(columns)
    per_statement = _MAX_VALUES // width
    head = f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES "
    one = "(" + ",".join("?" * width) + ")"
    cur = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        for start in range(0, len(rows), per_statement):
            chunk = rows[start : start + per_statement]
            cur.execute(
                head + ",".join([one] * len(chunk)), list(itertools.chain.from_iterable(chunk))
            )
    finally:
        cur.close()
