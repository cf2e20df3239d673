"""The demo's root-cause story: Hanul's die runs hotter lot by lot and its panels crack;
Hanbit finds the cracks at assembly, traces them to Hanul's lots, asks Hanul about the lots
its trace ranks highest (what the Traceability page preselects) and Hanul's install
answers with aggregates only (both companies live in the demo's one install)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from dure.collab.signing import KeyRing
from dure.domain.grants import GrantScope, ShareGrant
from dure.domain.organisations import Organisation
from dure.domain.users import Role
from dure.services.collaboration.context import Collab
from dure.services.demo.inspection_history import user_caller
from dure.services.platform.accounts import system_caller
from dure.services.traceability.asking import ask_about_lots, suggested_lots
from dure.services.traceability.trace import trace_defects
from dure.store.session import Store

SUPPLIER = "hanul"


def root_cause_story(
    store: Store, home: Path, oem: Organisation, supplier: Organisation
) -> dict[str, Any]:
    """Hanul grants Hanbit root-cause requests (answered at once); Hanbit's engineer traces
    its defects and asks Hanul about the lots the trace ranks highest, as the Traceability
    page's button does. What Hanbit learnt, per lot: the parameter furthest from normal,
    its shift and Cpk."""
    with store.session(system_caller(supplier)) as s:
        s.grants.grant(
            ShareGrant(
                grantor_org_id=supplier.id,
                grantee_org_id=oem.id,
                scope=GrantScope.ROOT_CAUSE,
                created_by=None,
                note="Hanbit may ask why door panels cracked; answers are lot aggregates",
            )
        )
    ctx = Collab(store=store, keys=KeyRing(home / "keys"), public_url="", work_dir=home / "work")
    engineer = user_caller(store, oem, Role.ENGINEER)
    with store.session(engineer, read_only=True) as s:
        traced = trace_defects(s, supplier_org_id=supplier.id)
    if not traced:
        return {"status": "not_asked", "lots": [], "ranked": [], "found": {}, "reason": None}
    ranked = [(lot.lot_code, lot.defects) for lot in traced[0].lots]
    lots = suggested_lots(traced[0])
    sent = ask_about_lots(
        ctx, engineer, supplier.id, lots, note="cracks at the door-panel hemming station"
    )
    row = sent.request
    answer = json.loads(row.answer_text) if row.answer_text else {}
    found = {}
    for lot in answer.get("lots", []):
        top = lot["parameters"][0] if lot["parameters"] else {}
        found[lot["lot"]] = {
            "parameter": top.get("name"),
            "shift_sigma": top.get("shift_sigma"),
            "cpk": top.get("cpk"),
            "top_cause": lot["top_causes"][0]["parameter"] if lot["top_causes"] else None,
        }
    return {
        "status": str(row.status),
        "lots": lots,
        "ranked": ranked,
        "question": {k: v for k, v in sent.question.items() if k != "lots"},
        "found": found,
        "reason": row.reason,
    }
