"""The Alembic migrations build exactly the schema that ``store/tables.py`` declares."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from dure.store.session import Store
from dure.store.tables import metadata


def test_migrated_database_matches_the_declared_tables(store: Store) -> None:
    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == [], f"tables.py and the migrations disagree; add a migration: {diff}"


def test_sqlite_runs_in_wal_mode(store: Store) -> None:
    if store.backend != "sqlite":
        pytest.skip(f"WAL mode is SQLite's; this pass runs on {store.backend}")
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
