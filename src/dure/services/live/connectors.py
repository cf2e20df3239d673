"""Live connectors as use cases: create them, change their configuration, switch them off."""

from __future__ import annotations

import dataclasses
from typing import Any

from dure.domain.connectors import Connector, ConnectorKind
from dure.domain.pages import Page
from dure.errors import InvalidInput
from dure.ingest.streams.config import MqttConfig, OpcuaConfig, check_config
from dure.store.session import Session


def create_connector(session: Session, name: str, kind: str, config: dict[str, Any]) -> Connector:
    """A new connector of the caller's organisation, its configuration checked first."""
    if not name or len(name) > 200:
        raise InvalidInput("name", "give a name of 1 to 200 characters")
    checked = check_config(kind, config)
    connector = Connector(
        org_id=session.caller.org_id,
        name=name,
        kind=ConnectorKind(kind),
        config=checked.model_dump(mode="json"),
        created_by=session.caller.user_id,
    )
    return session.connectors.add(connector)


def save_connector(session: Session, name: str, kind: str, config: dict[str, Any]) -> Connector:
    """Create the connector ``name`` or replace its configuration (the CLI's path)."""
    checked = check_config(kind, config).model_dump(mode="json")
    existing = session.connectors.list(Page(limit=1), name=name, org_id=session.caller.org_id)
    if not existing.items:
        return create_connector(session, name, kind, config)
    current = existing.items[0]
    if current.kind != ConnectorKind(kind):
        raise InvalidInput("kind", f"connector {name!r} is {current.kind.value}, not {kind}")
    return session.connectors.update_fields(current.id, config=checked, enabled=True)


def change_connector(
    session: Session, connector_id: str, config: dict[str, Any] | None, enabled: bool | None
) -> Connector:
    """Replace a connector's configuration (checked first; a hidden password is kept) or
    switch it on or off."""
    current = session.connectors.get(connector_id)
    changes: dict[str, Any] = {}
    if config is not None:
        if config.get("password") == SECRET_SHOWN:
            config = {**config, "password": current.config.get("password")}
        changes["config"] = check_config(current.kind, config).model_dump(mode="json")
    if enabled is not None:
        changes["enabled"] = enabled
    if not changes:
        raise InvalidInput("body", "give config or enabled")
    return session.connectors.update_fields(connector_id, **changes)


SECRET_SHOWN = "********"


def without_secrets(connector: Connector) -> Connector:
    """The connector as shown to people: its broker or server password hidden."""
    if connector.config.get("password") is None:
        return connector
    return dataclasses.replace(connector, config={**connector.config, "password": SECRET_SHOWN})


def typed_config(connector: Connector) -> MqttConfig | OpcuaConfig:
    """The connector's checked configuration."""
    return check_config(connector.kind, connector.config)
