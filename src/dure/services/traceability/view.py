"""The Traceability page in one read: an OEM's defects by supplier and lot, a supplier's
shipments (and what of them reached the OEM)."""

from __future__ import annotations

from typing import Any

from dure.domain.organisations import OrgKind
from dure.domain.traceability import Shipment
from dure.services.traceability.trace import trace_defects
from dure.store.session import Session

RECENT = 50


def traceability_view(session: Session) -> dict[str, Any]:
    """Everything the page shows, for the caller's organisation (OEM or supplier)."""
    names = {o.id: o.name for o in session.organisations.list()}
    me = session.caller.org_id
    shipments = session.shipments.list_all()
    own = [s for s in shipments if s.org_id == me]
    received = [s for s in shipments if s.org_id != me]
    defects = sorted(session.part_defects.list_own(), key=lambda d: d.found_at, reverse=True)
    traces = trace_defects(session)
    return {
        "org_kind": session.caller.org_kind,
        "is_oem": session.caller.org_kind == OrgKind.OEM.value,
        "suppliers": [
            {**t.as_dict(), "supplier": names.get(t.supplier_org_id, t.supplier_org_id)}
            for t in traces
        ],
        "defects": [
            {
                "id": d.id,
                "supplier_org_id": d.supplier_org_id,
                "supplier": names.get(d.supplier_org_id, d.supplier_org_id),
                "stage": str(d.stage),
                "defect_type": d.defect_type,
                "found_at": d.found_at,
                "count": d.count,
                "lot_codes": d.lot_codes,
                "serials": d.serials,
                "oem_part_number": d.oem_part_number,
            }
            for d in defects[:RECENT]
        ],
        "defect_records": len(defects),
        "received_shipments": [_shipment(s, names) for s in _newest(received)[:RECENT]],
        "shipments": [_shipment(s, names) for s in _newest(own)[:RECENT]],
    }


def _newest(items: list[Shipment]) -> list[Shipment]:
    return sorted(items, key=lambda s: s.shipped_at, reverse=True)


def _shipment(s: Shipment, names: dict[str, str]) -> dict[str, Any]:
    return {
        "id": s.id,
        "shipment_no": s.shipment_no,
        "supplier_org_id": s.org_id,
        "supplier": names.get(s.org_id, s.org_id),
        "oem_org_id": s.oem_org_id,
        "oem": names.get(s.oem_org_id, s.oem_org_id),
        "part_number": s.part_number,
        "oem_part_number": s.oem_part_number,
        "lots": [
            {
                "code": lot["code"],
                "quantity": lot.get("quantity"),
                "serials": len(lot.get("serials") or []),
            }
            for lot in s.lots
        ],
        "shipped_at": s.shipped_at,
        "sent_at": s.sent_at,
    }
