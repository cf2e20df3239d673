"""The data folder is its user's alone, and connector passwords are sealed at rest."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from sqlalchemy import select

from dure.domain.connectors import Connector, ConnectorKind
from dure.services.platform.accounts import system_caller
from dure.settings import Settings
from dure.store import tables as t
from dure.store.engine import sqlite_file
from dure.store.secrets import SecretBox, SecretKeyMissing
from dure.store.session import Store
from tests.factories import World

PASSWORD = "broker-pass-7731"


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _add_connector(store: Store, world: World) -> str:
    with store.session(system_caller(world.a.org)) as s:
        connector = s.connectors.add(
            Connector(
                org_id=world.a.org.id,
                name="press-broker",
                kind=ConnectorKind.MQTT,
                config={"host": "broker.example", "port": 1883, "password": PASSWORD},
            )
        )
    return connector.id


def _stored_config(store: Store, connector_id: str) -> dict:  # type: ignore[type-arg]
    with store.engine.connect() as conn:
        return conn.execute(
            select(t.connectors.c.config).where(t.connectors.c.id == connector_id)
        ).scalar_one()


def test_the_data_folder_is_private(store: Store, settings: Settings, world: World) -> None:
    with store.session(system_caller(world.a.org)) as s:
        sha = s.blob_store.put(b"an uploaded image")
    assert _mode(settings.home) == 0o700
    assert _mode(settings.blob_dir) == 0o700
    assert _mode(store.blobs.path_of(sha)) & 0o077 == 0  # nobody else may read a blob
    database = sqlite_file(settings.resolved_database_url)
    if database is not None:
        assert _mode(database) == 0o600
    os.chmod(settings.home, 0o755)  # loosened by hand: opening the store tightens it again
    Store.open(settings).engine.dispose()
    assert _mode(settings.home) == 0o700


def test_connector_passwords_are_sealed_at_rest(
    store: Store, settings: Settings, world: World
) -> None:
    connector_id = _add_connector(store, world)
    stored = _stored_config(store, connector_id)
    assert stored["password"].startswith("sealed:v1:") and PASSWORD not in str(stored)
    assert stored["host"] == "broker.example"  # only the secret is sealed
    database = sqlite_file(settings.resolved_database_url)
    if database is not None:
        store.engine.dispose()  # checkpoint the write-ahead log into the file
        assert PASSWORD.encode() not in database.read_bytes()
    with store.session(system_caller(world.a.org)) as s:
        assert s.connectors.get(connector_id).config["password"] == PASSWORD
        assert s.connectors.get_by_name("press-broker").config["password"] == PASSWORD
    key = settings.key_dir / "secrets.key"
    assert _mode(key) == 0o600 and _mode(settings.key_dir) == 0o700


def test_a_replaced_key_is_a_clear_error_not_a_wrong_password(
    store: Store, settings: Settings, world: World
) -> None:
    connector_id = _add_connector(store, world)
    (settings.key_dir / "secrets.key").unlink()
    stranger = SecretBox(settings.key_dir)
    stranger.seal("x")  # a new key is made
    store.secrets = stranger
    with (
        store.session(system_caller(world.a.org)) as s,
        pytest.raises(SecretKeyMissing, match="secrets.key"),
    ):
        s.connectors.get(connector_id)


def test_a_password_stored_before_sealing_is_read_and_sealed_when_written(
    store: Store, world: World
) -> None:
    connector_id = _add_connector(store, world)
    with store.engine.begin() as conn:
        conn.execute(
            t.connectors.update()
            .where(t.connectors.c.id == connector_id)
            .values(config={"host": "broker.example", "port": 1883, "password": "old-clear"})
        )
    with store.session(system_caller(world.a.org)) as s:
        assert s.connectors.get(connector_id).config["password"] == "old-clear"
        s.connectors.update_fields(connector_id, config={"host": "b2", "password": "old-clear"})
    assert _stored_config(store, connector_id)["password"].startswith("sealed:v1:")
