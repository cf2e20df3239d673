"""Fixtures: a fresh store per test on the backend under test (SQLite or PostgreSQL)."""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from dure.settings import Settings
from dure.store.engine import make_engine, migrate
from dure.store.session import Store
from dure.store.tables import metadata
from tests.factories import World, build_world

BACKEND = os.environ.get("DURE_TEST_BACKEND", "sqlite")
POSTGRES_URL = os.environ.get("DURE_TEST_POSTGRES_URL")
SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def pytest_report_header() -> str:
    return f"dure store backend: {BACKEND}"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Model, Ray, multi-install and browser tests run once, in the SQLite pass."""
    if BACKEND != "postgresql":
        return
    skip = pytest.mark.skip(reason="store-independent model test; it runs in the SQLite pass")
    for item in items:
        path = str(item.fspath)
        if (
            "/tests/models/" in path
            or "/tests/scale/" in path
            or "/tests/edge/" in path
            or "/tests/browser/" in path
            or path.endswith(("test_federated_neu.py", "test_multicompany.py"))
            or item.get_closest_marker("multicompany") is not None
        ):
            item.add_marker(skip)


@pytest.fixture(scope="session")
def _postgres_engine():  # type: ignore[no-untyped-def]
    if BACKEND != "postgresql":
        yield None
        return
    if not POSTGRES_URL:
        pytest.fail("DURE_TEST_BACKEND=postgresql needs DURE_TEST_POSTGRES_URL (make test sets it)")
    url = POSTGRES_URL.replace("postgresql://", "postgresql+psycopg://", 1)
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    migrate(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def settings(tmp_path: Path, _postgres_engine) -> Settings:  # type: ignore[no-untyped-def]
    """Settings with a fresh data folder (and, on PostgreSQL, emptied tables)."""
    if _postgres_engine is None:
        return Settings(home=tmp_path / "home", max_upload_bytes=2_000_000)
    names = ", ".join(t.name for t in metadata.sorted_tables)
    with _postgres_engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {names} CASCADE"))
    return Settings(home=tmp_path / "home", database_url=POSTGRES_URL, max_upload_bytes=2_000_000)


@pytest.fixture
def install_settings(  # type: ignore[no-untyped-def]
    tmp_path: Path, _postgres_engine
) -> Iterator[Callable[..., Settings]]:
    """Settings of further installs (partner companies, a second demo) on the backend of
    this pass: each its own data folder and, on PostgreSQL, its own fresh database."""
    created: list[str] = []

    def make(name: str, **fields: Any) -> Settings:
        home = tmp_path / name
        if _postgres_engine is None:
            return Settings(home=home, **fields)
        database = f"dure_{re.sub(r'[^a-z0-9]', '_', name.lower())}_{secrets.token_hex(4)}"
        with _postgres_engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text(f'CREATE DATABASE "{database}"'))
        created.append(database)
        url = f"{POSTGRES_URL.rsplit('/', 1)[0]}/{database}"
        return Settings(home=home, database_url=url, **fields)

    yield make
    if _postgres_engine is not None:
        with _postgres_engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            for database in created:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))


@pytest.fixture
def store(settings: Settings) -> Iterator[Store]:
    """An opened, migrated store."""
    opened = Store.open(settings)
    yield opened
    opened.engine.dispose()


@pytest.fixture
def world(store: Store) -> World:
    """A small world: an OEM, two suppliers with data, a grant from supplier A to the OEM."""
    return build_world(store)


@pytest.fixture
def client(settings: Settings, store: Store):  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient

    from dure.api.app import create_app

    with TestClient(create_app(settings, store)) as test_client:
        yield test_client


@pytest.fixture
def shared_data() -> Path:
    """The real data sets beside the repo; skips the test when they are absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data sets not found at {SHARED_DATA} (they sit in ../shared/data)")
    return SHARED_DATA
