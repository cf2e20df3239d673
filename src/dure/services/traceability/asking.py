"""From the trace to a root-cause request: which lots to ask a supplier about, what the
request says, and what came of the requests already sent about each lot.

The OEM's engineer selects ranked lots of one supplier on the Traceability page (by
default the lots whose defects stand above the rest, ``suggested_lots``); the request
names exactly those lots, with the defect type and the stage that most of their defects
have (``question_for``), and goes through the root-cause service like any other.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from typing import Any

from dure.domain.grants import GrantScope
from dure.domain.root_cause import FoundAt, RootCauseRequest, RootCauseSide
from dure.domain.traceability import DefectStage, LotTrace
from dure.domain.users import Caller
from dure.errors import InvalidInput
from dure.services.collaboration import root_cause
from dure.services.collaboration.context import Collab
from dure.services.traceability.trace import SupplierTrace, trace_defects
from dure.store.session import Session

MAX_ASKED = root_cause.MAX_NAMED // 2  # as the root-cause route allows
MAX_SUGGESTED = 5  # lots preselected for one request
MIN_SUGGESTED_DEFECTS = 2  # a lot with one defect stands out only when it is the top lot

FOUND_AT = {
    DefectStage.INCOMING.value: FoundAt.INCOMING,
    DefectStage.ASSEMBLY.value: FoundAt.ASSEMBLY,
    DefectStage.FIELD_RETURN.value: FoundAt.FIELD,
}


def suggested_lots(trace: SupplierTrace) -> list[str]:
    """The top-ranked lots whose defects stand above the rest (at least half the top lot's
    and at least two, at most ``MAX_SUGGESTED``), in the trace's order; the top lot alone
    when no other lot qualifies."""
    if not trace.lots:
        return []
    top = trace.lots[0].defects
    floor = max(math.ceil(top / 2), MIN_SUGGESTED_DEFECTS)
    picked = [lot.lot_code for lot in trace.lots if lot.defects >= floor][:MAX_SUGGESTED]
    return picked or [trace.lots[0].lot_code]


def question_for(lots: list[LotTrace]) -> dict[str, Any]:
    """The defect type and the place found that most defects of ``lots`` have."""
    types: Counter[str] = Counter()
    stages: Counter[str] = Counter()
    for lot in lots:
        types.update(lot.by_type)
        stages.update(lot.by_stage)
    defect_type = _most(types)
    stage = _most(stages)
    return {
        "defect_type": defect_type,
        "found_at": FOUND_AT[stage] if stage in FOUND_AT else None,
    }


def _most(counts: Counter[str]) -> str | None:
    if not counts:
        return None
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[0][0]


@dataclass
class TracedAsk:
    """A request sent from the trace, with the question it asked."""

    request: RootCauseRequest
    question: dict[str, Any]


def ask_about_lots(
    ctx: Collab, caller: Caller, supplier_org_id: str, lot_codes: list[str], note: str = ""
) -> TracedAsk:
    """Send a root-cause request for exactly ``lot_codes`` of one supplier, all of which
    the caller's trace points to; its defect type and place found come from their defects.
    InvalidInput("lots") when a lot is not in the trace (nothing is sent)."""
    codes = list(dict.fromkeys(c.strip() for c in lot_codes if c and c.strip()))
    if not codes:
        raise InvalidInput("lots", "select at least one lot of the trace")
    with ctx.store.session(caller, read_only=True) as session:
        traced = trace_defects(session, supplier_org_id=supplier_org_id)
    lots = {lot.lot_code: lot for t in traced for lot in t.lots}
    unknown = [c for c in codes if c not in lots]
    if unknown:
        raise InvalidInput(
            "lots", f"not lots your defects trace to this supplier: {', '.join(unknown[:5])}"
        )
    question = question_for([lots[c] for c in codes])
    fields = {**question, "lots": codes, "note": note}
    row = root_cause.ask(ctx, caller, supplier_org_id, fields)
    return TracedAsk(row, {**question, "lots": codes})


def request_status(row: RootCauseRequest) -> dict[str, Any]:
    """What the trace row shows of a request: its status, when it was asked and answered."""
    return {
        "id": row.id,
        "status": str(row.status),
        "created_at": row.created_at,
        "answered_at": row.answered_at,
        "lots": row.lots,
    }


def latest_requests(session: Session) -> dict[tuple[str, str], RootCauseRequest]:
    """The newest request the caller sent about each (supplier, lot code) (one read)."""
    out: dict[tuple[str, str], RootCauseRequest] = {}
    rows = [r for r in session.root_cause.list_all() if r.side is RootCauseSide.ASKED]
    for row in sorted(rows, key=lambda r: r.created_at):
        for code in row.lots:
            out[(row.partner_org_id, code)] = row
    return out


def askable_suppliers(session: Session) -> set[str]:
    """The suppliers whose ROOT_CAUSE grant to the caller is in force."""
    return {g.grantor_org_id for g in session.grants.held_in_force(GrantScope.ROOT_CAUSE)}
