"""What the root-cause pages read: the OEM's traced requests, the supplier's shared answers."""

from __future__ import annotations

import json
from typing import Any

from dure.domain.grants import GrantScope
from dure.domain.ids import utcnow
from dure.domain.root_cause import (
    REQUESTS_PER_DAY,
    RootCauseRequest,
    RootCauseSide,
    RootCauseStatus,
)
from dure.services.collaboration.root_cause_budget import budget_of
from dure.store.session import Session


def _answer(row: RootCauseRequest) -> dict[str, Any] | None:
    if not row.answer_text:
        return None
    try:
        doc = json.loads(row.answer_text)
    except ValueError:
        return None
    return doc if isinstance(doc, dict) else None


def _findings(answer: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Per lot, the parameter furthest from normal and the model's top cause: what the
    traced view's sentence says ("die temperature +2.1σ above normal, Cpk 0.71")."""
    if not answer or answer.get("status") != "answered":
        return []
    out = []
    for lot in answer.get("lots") or []:
        shifted = [p for p in lot.get("parameters") or [] if p.get("shift_sigma") is not None]
        causes = lot.get("top_causes") or []
        out.append(
            {
                "lot": lot.get("lot"),
                "part_number": lot.get("part_number"),
                "parts": lot.get("parts"),
                "driver": shifted[0] if shifted else None,
                "top_cause": causes[0]["parameter"] if causes else None,
                "inspection": lot.get("inspection"),
            }
        )
    return out


def _row(session: Session, row: RootCauseRequest, names: dict[str, str]) -> dict[str, Any]:
    if row.partner_org_id not in names:
        names[row.partner_org_id] = session.organisations.get(row.partner_org_id).name
    answer = _answer(row)
    return {
        "id": row.id,
        "request_id": row.request_id,
        "partner_org_id": row.partner_org_id,
        "partner": names[row.partner_org_id],
        "lots": row.lots,
        "serials": row.serials,
        "defect_type": row.defect_type,
        "found_at": row.found_at,
        "note": row.note,
        "status": row.status,
        "reason": row.reason,
        "created_at": row.created_at,
        "answered_at": row.answered_at,
        "answer": answer,
        "findings": _findings(answer),
    }


def root_cause_view(session: Session, requests_per_day: int = REQUESTS_PER_DAY) -> dict[str, Any]:
    """Both sides of the caller's root-cause requests, newest first: ``traced`` (what we
    asked our suppliers and their answers), ``shared`` (what our OEMs asked us, the exact
    JSON we sent and how its delivery stands), the suppliers we may ask and the root-cause
    grants we gave, each with its budget of ``requests_per_day`` (used, left, next)."""
    rows = sorted(session.root_cause.list_all(), key=lambda r: r.created_at, reverse=True)
    names: dict[str, str] = {}
    traced = [_row(session, r, names) for r in rows if r.side is RootCauseSide.ASKED]
    shared = [_row(session, r, names) for r in rows if r.side is RootCauseSide.ANSWERING]
    for item, row in zip(
        shared, [r for r in rows if r.side is RootCauseSide.ANSWERING], strict=True
    ):
        item["answer_text"] = row.answer_text  # exactly what left (or waits to leave)
        item["repeat_of"] = row.repeat_of
        item["delivery"] = {
            "state": row.delivery,
            "attempts": row.delivery_attempts,
            "next_at": row.delivery_next_at,
            "error": row.delivery_error,
            "failing_since": row.delivery_failing_since,
            "delivered_at": row.delivered_at,
        }
    me = session.caller.org_id
    now = utcnow()
    suppliers = {}
    for grant in session.grants.held_in_force(GrantScope.ROOT_CAUSE):
        if grant.grantor_org_id not in suppliers:
            suppliers[grant.grantor_org_id] = session.organisations.get(grant.grantor_org_id).name
    given = [
        {
            "id": g.id,
            "grantee_org_id": g.grantee_org_id,
            "grantee": session.organisations.get(g.grantee_org_id).name,
            "review_before_send": g.review_before_send,
            "revoked_at": g.revoked_at,
            "created_at": g.created_at,
            "budget": budget_of(session, g.id, requests_per_day, now).as_dict(),
        }
        for g in session.grants.list_all(scope=GrantScope.ROOT_CAUSE.value, grantor_org_id=me)
    ]
    return {
        "traced": traced,
        "shared": shared,
        "pending_review": sum(r["status"] == RootCauseStatus.PENDING_REVIEW for r in shared),
        "undelivered": sum(r["delivery"]["state"] == "pending" for r in shared),
        "suppliers": [{"org_id": k, "name": v} for k, v in suppliers.items()],
        "grants_given": given,
    }
