"""Shipment notices from partner suppliers on other installs (signed peer requests)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from dure.api.deps import CollabDep
from dure.api.routes.peer import PeerDep, SignedDep
from dure.services.traceability.shipments import receive_shipment

router = APIRouter(prefix="/peer/v1", tags=["between installs"])


@router.post("/shipments")
def receive(
    body: dict[str, Any], signed: SignedDep, caller: PeerDep, ctx: CollabDep
) -> dict[str, str]:
    """A partner supplier's shipment notice, addressed to one of our organisations."""
    with ctx.store.session(caller) as session:
        shipment = receive_shipment(session, signed.receiver, body)
    return {"id": shipment.id, "status": "kept"}
