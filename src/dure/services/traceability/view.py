"""The Traceability page in one read: an OEM's defects by supplier and lot, a supplier's
shipments (and what of them reached the OEM)."""

from __future__ import annotations

from typing import Any

from dure.domain.organisations import OrgKind
from dure.domain.root_cause import RootCauseRequest
from dure.domain.traceability import Shipment
from dure.services.traceability.asking import (
    askable_suppliers,
    latest_requests,
    question_for,
    request_status,
    suggested_lots,
)
from dure.services.traceability.trace import SupplierTrace, trace_defects
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
    is_oem = session.caller.org_kind == OrgKind.OEM.value
    asked = latest_requests(session) if is_oem and traces else {}
    askable = askable_suppliers(session) if is_oem and traces else set()
    return {
        "org_kind": session.caller.org_kind,
        "is_oem": is_oem,
        "suppliers": [_supplier(t, names, asked, askable) for t in traces],
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


def _supplier(
    trace: SupplierTrace,
    names: dict[str, str],
    asked: dict[tuple[str, str], RootCauseRequest],
    askable: set[str],
) -> dict[str, Any]:
    """One supplier's ranked lots, each with the newest request sent about it; the lots
    preselected for a request and what it would ask; whether a request may be sent."""
    org = trace.supplier_org_id
    out = {**trace.as_dict(), "supplier": names.get(org, org)}
    for lot in out["lots"]:
        row = asked.get((org, lot["lot_code"]))
        lot["request"] = None if row is None else request_status(row)
    suggested = suggested_lots(trace)
    chosen = [lot for lot in trace.lots if lot.lot_code in set(suggested)]
    out["suggested_lots"] = suggested
    out["question"] = question_for(chosen)
    out["can_ask"] = org in askable
    out["ask_blocked"] = None if org in askable else "no_grant"
    return out


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
