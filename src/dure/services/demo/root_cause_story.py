"""The demo's root-cause story: Hanul's die runs hotter lot by lot and its panels crack;
Hanbit finds the cracks at assembly, asks Hanul about the newest lots, and Hanul's install
answers with aggregates only (both companies live in the demo's one install)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from dure.collab.signing import KeyRing
from dure.domain.grants import GrantScope, ShareGrant
from dure.domain.organisations import Organisation
from dure.domain.users import Role
from dure.services.collaboration import root_cause
from dure.services.collaboration.context import Collab
from dure.services.demo.inspection_history import user_caller
from dure.services.platform.accounts import system_caller
from dure.store.session import Store

SUPPLIER = "hanul"
ASKED_LOTS = 3  # Hanbit asks about Hanul's newest lots, where the die ran hottest


def root_cause_story(
    store: Store, home: Path, oem: Organisation, supplier: Organisation, part_number: str, days: int
) -> dict[str, Any]:
    """Hanul grants Hanbit root-cause requests (answered at once); Hanbit's engineer asks
    about the newest lots of the door panel for the cracks found at assembly. What Hanbit
    learnt, per lot: the parameter furthest from normal, its shift and Cpk."""
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
    lots = [f"{part_number}-L{d:02d}" for d in range(days - ASKED_LOTS, days)]
    row = root_cause.ask(
        ctx,
        user_caller(store, oem, Role.ENGINEER),
        supplier.id,
        {
            "lots": lots,
            "defect_type": "crack",
            "found_at": "assembly",
            "note": "cracks at the door-panel hemming station",
        },
    )
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
    return {"status": str(row.status), "lots": lots, "found": found, "reason": row.reason}
