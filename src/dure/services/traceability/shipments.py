"""Supplier shipments: recorded from the supplier's own lots, then sent to the OEM.

Inside one install the OEM reads a sent shipment through the store (it is addressed to
it); when the OEM is a partner on another install the shipment travels as a signed peer
request (``/peer/v1/shipments``) and the OEM's install keeps its own copy. A shipment
carries lot codes, quantities and serials only: no process or inspection record.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from dure.domain.organisations import OrgKind
from dure.domain.traceability import (
    Shipment,
    check_code,
    check_lots,
    check_moment,
)
from dure.domain.users import Caller, Role
from dure.errors import Forbidden, InvalidInput, NotFound, StateConflict
from dure.services.collaboration.context import Collab
from dure.store.session import Session

PEER_PATH = "/peer/v1/shipments"


def record_shipment(
    session: Session,
    *,
    oem_org_id: str,
    shipment_no: str,
    part_id: str,
    lots: list[Any],
    shipped_at: datetime | str,
    oem_part_number: str | None = None,
) -> Shipment:
    """Keep one of our shipments to a linked OEM; every lot must be one of our own lots of
    ``part_id`` (InvalidInput naming ``lots[i].code`` otherwise). Not yet sent."""
    session.shipments.require_write()
    oem = _linked_oem(session, oem_org_id)
    part = session.parts.own(part_id, "part_id")
    number = check_code(shipment_no, "shipment_no")
    checked = check_lots(lots)
    for i, lot in enumerate(checked):
        found = session.lots.list_own(code=lot.code)
        if not found or found[0].part_id != part.id:
            raise InvalidInput(
                f"lots[{i}].code",
                f"{lot.code!r} is not one of your lots of part {part.number}",
            )
    if oem_part_number is None:
        oem_part_number = session.shipments.oem_part_number(part.oem_part_id, oem.id)
        if oem_part_number is None:
            raise InvalidInput(
                "oem_part_number",
                f"part {part.number} names no part of {oem.name}: give the OEM's part number",
            )
    shipment = Shipment(
        org_id=session.caller.org_id,
        oem_org_id=oem.id,
        shipment_no=number,
        part_id=part.id,
        part_number=part.number,
        oem_part_number=check_code(oem_part_number, "oem_part_number"),
        lots=[lot.as_dict() for lot in checked],
        shipped_at=check_moment(shipped_at, "shipped_at"),
    )
    return session.shipments.add(shipment)


def _linked_oem(session: Session, oem_org_id: str) -> Any:
    try:
        oem = session.organisations.get(oem_org_id)
    except NotFound:
        raise InvalidInput("oem_org_id", f"{oem_org_id!r} is not an OEM linked to you") from None
    if oem.kind != OrgKind.OEM or oem.id == session.caller.org_id:
        raise InvalidInput("oem_org_id", f"{oem.name} is not an OEM you supply")
    if oem.id not in {o.id for o in session.organisations.list() if o.kind == OrgKind.OEM}:
        raise InvalidInput("oem_org_id", f"{oem.name} is not an OEM linked to you")
    return oem


def shipment_wire(shipment: Shipment) -> dict[str, Any]:
    """What crosses to the OEM's install: the notice, with lots and serials, nothing more."""
    return {
        "id": shipment.id,
        "shipment_no": shipment.shipment_no,
        "part_number": shipment.part_number,
        "oem_part_number": shipment.oem_part_number,
        "lots": shipment.lots,
        "shipped_at": shipment.shipped_at.isoformat(),
    }


def send_shipment(ctx: Collab, caller: Caller, shipment_id: str) -> Shipment:
    """Tell the OEM of one of our shipments: as a signed request when the OEM is a partner
    on another install, else through this install's store. Sending again is harmless."""
    if not caller.can(Role.ENGINEER):
        raise Forbidden("sending shipments needs the engineer role or higher")
    with ctx.store.session(caller, read_only=True) as session:
        shipment = session.shipments.own_by_id(shipment_id)
        if shipment is None:
            raise NotFound(f"shipment {shipment_id!r} does not exist or is not yours")
        try:
            partner = session.partners.by_partner_org(shipment.oem_org_id)
        except NotFound:
            partner = None
    if partner is not None:  # the OEM's install is elsewhere: the notice travels signed
        ctx.client(partner).post(PEER_PATH, shipment_wire(shipment))
    with ctx.store.session(caller) as session:
        sent = session.shipments.mark_sent(shipment.id)
        session.audit.record(
            "send",
            "shipment",
            shipment.id,
            detail={"to": shipment.oem_org_id, "between_installs": partner is not None},
        )
        return sent


def send_within_install(session: Session, shipment_id: str) -> Shipment:
    """Tell an OEM of this install of one of our shipments, through the store alone (the
    demo, an industrial complex's shared install); StateConflict when the OEM is a
    partner on another install (use ``send_shipment``)."""
    shipment = session.shipments.own_by_id(shipment_id)
    if shipment is None:
        raise NotFound(f"shipment {shipment_id!r} does not exist or is not yours")
    try:
        session.partners.by_partner_org(shipment.oem_org_id)
    except NotFound:
        sent = session.shipments.mark_sent(shipment.id)
        session.audit.record(
            "send",
            "shipment",
            shipment.id,
            detail={"to": shipment.oem_org_id, "between_installs": False},
        )
        return sent
    raise StateConflict("shipment", "the OEM is on another install: send it as a peer request")


def receive_shipment(session: Session, oem_org_id: str, doc: Any) -> Shipment:
    """The OEM's install: keep a partner supplier's shipment notice (``session`` acts as
    the sending supplier, ``oem_org_id`` is the organisation it was sent to)."""
    supplier = session.caller.org_id
    receiver = next((o for o in session.organisations.list() if o.id == oem_org_id), None)
    if (
        receiver is None
        or receiver.kind != OrgKind.OEM
        or session.caller.org_kind != OrgKind.SUPPLIER
        or receiver.id == supplier
    ):
        raise Forbidden("the shipment is addressed to an organisation you do not supply")
    if not isinstance(doc, dict):
        raise InvalidInput("body", "a shipment is a JSON object")
    shipment_id = check_code(doc.get("id"), "id", 32)
    existing = session.shipments.own_by_id(shipment_id)
    if existing is not None:  # a retried send
        return existing
    checked = check_lots(doc.get("lots"))
    shipment = Shipment(
        id=shipment_id,
        org_id=supplier,
        oem_org_id=oem_org_id,
        shipment_no=check_code(doc.get("shipment_no"), "shipment_no"),
        part_number=check_code(doc.get("part_number"), "part_number"),
        oem_part_number=check_code(doc.get("oem_part_number"), "oem_part_number"),
        lots=[lot.as_dict() for lot in checked],
        shipped_at=check_moment(doc.get("shipped_at"), "shipped_at"),
    )
    session.shipments.add(shipment)
    session.shipments.mark_sent(shipment.id)
    session.audit.record(
        "receive", "shipment", shipment.id, org_id=oem_org_id, detail={"from": supplier}
    )
    return session.shipments.get(shipment.id)


def list_shipments(session: Session) -> list[Shipment]:
    """Our own shipments and those sent to us, newest first."""
    items = session.shipments.list_all()
    return sorted(items, key=lambda s: s.shipped_at, reverse=True)


def lots_shipped_to(session: Session, oem_org_id: str) -> dict[str, list[str]]:
    """The supplier's side: lot code -> serials of every lot we sent to ``oem_org_id``
    (what a request from that OEM may name; lots we never sent it are not there)."""
    out: dict[str, list[str]] = {}
    for shipment in session.shipments.own_sent_to(oem_org_id):
        for lot in shipment.shipped_lots():
            out.setdefault(lot.code, []).extend(lot.serials)
    return out


def shipped_elsewhere_only(session: Session, oem_org_id: str) -> set[str]:
    """The supplier's side: codes of our lots we sent to other OEMs and never to
    ``oem_org_id`` (a root-cause request from that OEM is not answered about them; lots
    in no sent shipment stay answerable)."""
    to_them: set[str] = set()
    to_others: set[str] = set()
    for shipment in session.shipments.list_own():
        if shipment.sent_at is None:
            continue
        codes = to_them if shipment.oem_org_id == oem_org_id else to_others
        codes.update(shipment.lot_codes())
    return to_others - to_them
