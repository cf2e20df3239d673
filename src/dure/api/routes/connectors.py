"""Live connectors (MQTT, OPC UA): configuration, status and what they refused."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from dure.api.deps import PageDep, SessionDep, require
from dure.api.schemas import ConnectorChange, ConnectorIn, ConnectorTestIn
from dure.domain.connectors import Connector
from dure.domain.pages import Listing
from dure.domain.users import Caller, Role
from dure.services.live.connection_check import try_connection
from dure.services.live.connectors import change_connector, create_connector, without_secrets

router = APIRouter(tags=["connectors"])


@router.get("/api/connectors")
def list_connectors(session: SessionDep, page: PageDep) -> Listing[Connector]:
    """Your connectors with their last status (passwords are never shown)."""
    listing = session.connectors.list(page)
    return Listing(
        [without_secrets(c) for c in listing.items],
        listing.limit,
        listing.offset,
        listing.next_offset,
    )


@router.post("/api/connectors", status_code=201)
def add_connector(body: ConnectorIn, session: SessionDep) -> Connector:
    """Configure a connector (engineers); `dure connect run NAME` runs it."""
    return without_secrets(create_connector(session, body.name, body.kind, body.config))


@router.post("/api/connectors/test")
def test_connector(
    body: ConnectorTestIn,
    _engineer: Annotated[Caller, Depends(require(Role.ENGINEER))],
) -> dict[str, Any]:
    """Try a configuration (engineers): reach the broker or server as the connector would
    and connect once within about 3 s; nothing is stored."""
    result = try_connection(body.kind, body.config)
    return {
        "ok": result.ok,
        "reason": result.reason,
        "field": result.field,
        "seconds": result.seconds,
    }


@router.get("/api/connectors/{connector_id}")
def get_connector(connector_id: str, session: SessionDep) -> Connector:
    """One connector: configuration and the status its runner last wrote."""
    return without_secrets(session.connectors.get(connector_id))


@router.patch("/api/connectors/{connector_id}")
def patch_connector(connector_id: str, body: ConnectorChange, session: SessionDep) -> Connector:
    """Replace the configuration (checked first) or switch the connector off or on."""
    changed = change_connector(session, connector_id, body.config, body.enabled)
    return without_secrets(changed)


@router.get("/api/connectors/{connector_id}/rejects")
def list_rejects(
    connector_id: str, session: SessionDep, limit: int = Query(100, ge=1, le=1000)
) -> list[dict[str, Any]]:
    """The newest messages or readings the connector could not store, with the reason."""
    return session.connectors.rejects(connector_id, limit)
