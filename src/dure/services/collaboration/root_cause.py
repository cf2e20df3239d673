"""Root-cause requests between companies: an OEM asks, a supplier answers with aggregates.

The OEM names the supplier's lot codes and/or serials, the defect and where it was found.
The supplier's install checks the request's signature (the peer gate) and its ROOT_CAUSE
grant to the OEM, computes the answer at home (``root_cause_answers``) and sends back only
aggregates — at once, or after one of its admins approved the exact JSON when the grant
asks for review. Both sides keep a row of every request with the answer exactly as it
crossed, and audit every request, answer and refusal. When OEM and supplier are
organisations of one install, the same functions run without HTTP, with the same grant
check and audit.

The supplier's install rations what one grant may have computed (``root_cause_budget``:
N requests per rolling 24 hours, a repeat answered from the kept answer), and an answer
decided after review is delivered durably (``root_cause_delivery``: retried by the job
runner's outbox lane until the OEM has it).
"""

from __future__ import annotations

import json
from typing import Any

from dure.collab.peer_client import PartnerUnreachable
from dure.domain.grants import GrantScope, ShareGrant
from dure.domain.ids import new_id, utcnow
from dure.domain.root_cause import (
    FoundAt,
    RootCauseRequest,
    RootCauseSide,
    RootCauseStatus,
)
from dure.domain.users import Caller, Role
from dure.errors import Forbidden, InvalidInput, NotFound, StateConflict
from dure.services.collaboration import root_cause_delivery as delivery
from dure.services.collaboration.context import Collab, audit_refusal
from dure.services.collaboration.root_cause_answers import (
    GroupTooSmall,
    check_growth,
    compute_answer,
)
from dure.services.collaboration.root_cause_budget import (
    BudgetUsed,
    check_budget,
    kept_answer,
    repeat_text,
)
from dure.services.collaboration.root_cause_checks import ANSWER_STATUSES, check_answer
from dure.store.session import Session

MAX_NAMED = 500  # lots plus serials one request may name
REQUEST_PATH = "/peer/v1/root-cause-requests"
ANSWER_PATH = delivery.ANSWER_PATH


# ---- what crosses -------------------------------------------------------------------------
def read_request(doc: Any) -> dict[str, Any]:
    """A request document checked field by field (InvalidInput naming the field)."""
    if not isinstance(doc, dict):
        raise InvalidInput("request", "a root-cause request is a JSON object")
    out: dict[str, Any] = {}
    request_id = doc.get("request_id")
    if not isinstance(request_id, str) or not 1 <= len(request_id) <= 32:
        raise InvalidInput("request_id", "an id of 1 to 32 characters")
    out["request_id"] = request_id
    for name in ("lots", "serials"):
        items = doc.get(name) or []
        if not isinstance(items, list) or not all(
            isinstance(i, str) and 0 < len(i.strip()) <= 100 for i in items
        ):
            raise InvalidInput(name, "a list of codes of 1 to 100 characters each")
        out[name] = list(dict.fromkeys(i.strip() for i in items))
    if not out["lots"] and not out["serials"]:
        raise InvalidInput("lots", "name at least one lot or serial")
    if len(out["lots"]) + len(out["serials"]) > MAX_NAMED:
        raise InvalidInput("serials", f"name at most {MAX_NAMED} lots and serials in one request")
    defect_type = doc.get("defect_type")
    if defect_type is not None and (not isinstance(defect_type, str) or len(defect_type) > 100):
        raise InvalidInput("defect_type", "a defect type code of at most 100 characters")
    out["defect_type"] = defect_type or None
    found_at = doc.get("found_at")
    try:
        out["found_at"] = FoundAt(found_at) if found_at else None
    except ValueError:
        known = ", ".join(f.value for f in FoundAt)
        raise InvalidInput("found_at", f"{found_at!r}: use one of {known}") from None
    note = doc.get("note") or ""
    if not isinstance(note, str) or len(note) > 1000:
        raise InvalidInput("note", "text of at most 1000 characters")
    out["note"] = note
    return out


def _wire(question: dict[str, Any]) -> dict[str, Any]:
    return {**question, "found_at": str(question["found_at"]) if question["found_at"] else None}


def _text(doc: dict[str, Any]) -> str:
    # the exact bytes that cross: PeerClient sends json.dumps(body), which gives these back
    return json.dumps(doc)


# ---- the OEM's side -----------------------------------------------------------------------
def ask(
    ctx: Collab, caller: Caller, supplier_org_id: str, fields: dict[str, Any]
) -> RootCauseRequest:
    """Send a root-cause request to a supplier (engineers); returns our row with the answer
    (or its status: waiting for the supplier's review, refused with the reason)."""
    if not caller.can(Role.ENGINEER):
        raise Forbidden("root-cause requests need the engineer role or higher")
    question = read_request({**fields, "request_id": new_id()})
    with ctx.store.session(caller) as session:
        session.organisations.get(supplier_org_id)  # 404 unless linked to us
        suppliers = {o.id for o in session.organisations.suppliers_of(caller.org_id)}
        if supplier_org_id not in suppliers:
            raise InvalidInput("supplier_org_id", "ask one of your own suppliers")
        row = session.root_cause.add(
            RootCauseRequest(
                org_id=caller.org_id,
                side=RootCauseSide.ASKED,
                partner_org_id=supplier_org_id,
                status=RootCauseStatus.WAITING,
                **question,
            )
        )
        session.audit.record(
            "send",
            "root_cause_request",
            row.id,
            detail={"to": supplier_org_id, "request_id": row.request_id},
        )
    with ctx.store.system() as system:
        partner = system.peers.partner_between(caller.org_id, supplier_org_id)
    try:
        if partner is None:
            text = answer_request(ctx, caller, supplier_org_id, _wire(question))
        else:
            raw = ctx.client(partner).request("POST", REQUEST_PATH, _wire(question), raw=True)
            text = raw.decode()
    except Forbidden as exc:  # refused on this install
        return _refused(ctx, caller, row, str(exc))
    except PartnerUnreachable as exc:
        if exc.remote_status in (401, 403):
            return _refused(ctx, caller, row, str(exc))
        raise
    with ctx.store.session(caller) as session:
        return _keep_answer(session, row, text, supplier_org_id)


def _refused(ctx: Collab, caller: Caller, row: RootCauseRequest, reason: str) -> RootCauseRequest:
    with ctx.store.session(caller) as session:
        session.audit.record(
            "refused", "root_cause_request", row.id, detail={"reason": reason[:500]}
        )
        return session.root_cause.update_fields(
            row.id, status=RootCauseStatus.REFUSED, reason=reason[:1000]
        )


def _keep_answer(
    session: Session, row: RootCauseRequest, text: str, supplier_org_id: str
) -> RootCauseRequest:
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError):
        raise InvalidInput("answer", "not a root-cause answer") from None
    check_answer(doc, (*ANSWER_STATUSES, str(RootCauseStatus.PENDING_REVIEW)))
    if doc.get("request_id") != row.request_id:
        raise InvalidInput("answer.request_id", "the answer is about another request")
    status = RootCauseStatus(doc["status"])
    if status is RootCauseStatus.PENDING_REVIEW:
        return row  # the supplier's admin reviews the answer first: it comes later
    if row.status is not RootCauseStatus.WAITING:
        if row.answer_text == text:
            return row  # delivered again (the supplier retried): kept once, nothing changes
        raise StateConflict("status", f"the request is {row.status}: its answer is kept already")
    session.audit.record(
        "receive",
        "root_cause_answer",
        row.id,
        detail={"from": supplier_org_id, "status": str(status), "bytes": len(text.encode())},
    )
    return session.root_cause.update_fields(
        row.id,
        status=status,
        answer_text=text,
        reason=doc.get("reason"),
        answered_at=utcnow(),
    )


def receive_answer(ctx: Collab, supplier: Caller, oem_org_id: str, text: str) -> RootCauseRequest:
    """The OEM's side of an answer sent after review: kept on our row of the request, once,
    when we asked that supplier, still wait for the answer and it holds only the agreed
    aggregates (``root_cause_checks``); every refusal is audited on our side."""
    try:
        doc = json.loads(text)
        request_id = str(doc["request_id"])[:32]
    except (ValueError, KeyError, TypeError, RecursionError):
        raise InvalidInput("answer", "not a root-cause answer") from None
    as_oem = Caller(org_id=oem_org_id, user_id=None, role=Role.ENGINEER, org_kind="oem")
    try:
        check_answer(doc)
        with ctx.store.session(as_oem) as session:
            row = session.root_cause.by_request(request_id, RootCauseSide.ASKED, supplier.org_id)
            return _keep_answer(session, row, text, supplier.org_id)
    except (InvalidInput, NotFound, StateConflict) as exc:
        audit_refusal(
            ctx.store,
            oem_org_id,
            "root_cause_answer",
            str(exc)[:500],
            {"from": supplier.org_id, "request_id": request_id},
        )
        raise


# ---- the supplier's side ------------------------------------------------------------------
def _grant(session: Session, oem_org_id: str) -> ShareGrant | None:
    return next(iter(session.grants.given_in_force(oem_org_id, GrantScope.ROOT_CAUSE)), None)


def answer_request(ctx: Collab, oem: Caller, supplier_org_id: str, doc: Any) -> str:
    """The supplier's side: check our ROOT_CAUSE grant to the asking OEM and its budget,
    compute the aggregates here and return the JSON text that goes back (a pending notice
    when the grant asks for review). A repeat of a request answered in the last 24 hours
    gets the kept answer (nothing recomputed, no budget spent). Refusals are kept, audited
    and raised as Forbidden."""
    question = read_request(doc)
    as_us = Caller(org_id=supplier_org_id, user_id=None, role=Role.ENGINEER, org_kind="supplier")
    grant: ShareGrant | None = None
    limit = ctx.root_cause_requests_per_day
    try:  # computed in a read-only session: no write lock is held while computing
        with ctx.store.session(as_us, read_only=True) as reading:
            grant = _grant(reading, oem.org_id)
            if grant is None:
                raise Forbidden(f"no ROOT_CAUSE grant to {oem.org_id} is in force here")
            original = kept_answer(reading, grant.id, oem.org_id, question, utcnow())
            if original is None:
                check_budget(reading, grant.id, limit, utcnow())
                figures = compute_answer(
                    reading,
                    question["lots"],
                    question["serials"],
                    question["defect_type"],
                    ctx.root_cause_min_group,
                    None if grant.part_id is None else {grant.part_id},
                    oem.org_id,
                )
                before = reading.root_cause.list_own(
                    side=RootCauseSide.ANSWERING.value, partner_org_id=oem.org_id
                )
                check_growth(
                    [r.answer_text for r in before if r.answer_text],
                    figures,
                    ctx.root_cause_min_group,
                )
        if original is not None:
            return _answer_repeat(ctx, as_us, oem, grant, question, original)
        answer = {"request_id": question["request_id"], "status": "answered", **figures}
        review = grant.review_before_send
        with ctx.store.session(as_us) as session:
            session.grants.lock_given(grant.id)  # requests under one grant count in turn
            check_budget(session, grant.id, limit, utcnow())  # another request may have won
            row = session.root_cause.add(
                RootCauseRequest(
                    org_id=supplier_org_id,
                    side=RootCauseSide.ANSWERING,
                    partner_org_id=oem.org_id,
                    status=RootCauseStatus.PENDING_REVIEW if review else RootCauseStatus.ANSWERED,
                    answer_text=_text(answer),
                    grant_id=grant.id,
                    answered_at=None if review else utcnow(),
                    budget_spent=True,
                    **question,
                )
            )
            session.audit.record(
                "receive",
                "root_cause_request",
                row.id,
                grant_id=grant.id,
                detail={"from": oem.org_id, "request_id": row.request_id},
            )
            if review:
                return _text({"request_id": row.request_id, "status": "pending_review"})
            _audit_sent(session, row)
            return row.answer_text  # type: ignore[return-value]
    except Forbidden as exc:
        reason = exc.reason if isinstance(exc, GroupTooSmall) else str(exc)
        # a group too small was computed (it tells something): it counts, and is kept
        spent = isinstance(exc, GroupTooSmall)
        _keep_refusal(
            ctx,
            as_us,
            oem.org_id,
            question,
            reason,
            grant_id=grant.id if grant is not None else None,
            budget_spent=spent,
            budget=isinstance(exc, BudgetUsed),
        )
        raise Forbidden(reason) from None


def _answer_repeat(
    ctx: Collab,
    as_us: Caller,
    oem: Caller,
    grant: ShareGrant,
    question: dict[str, Any],
    original: RootCauseRequest,
) -> str:
    """A repeat of ``original`` within 24 hours: the same answer again under the new id
    (held for review while the original is; refused again when it was refused)."""
    text = repeat_text(original, question["request_id"])
    if text is None:
        raise Forbidden(original.reason or "refused")
    status = original.status
    with ctx.store.session(as_us) as session:
        row = session.root_cause.add(
            RootCauseRequest(
                org_id=as_us.org_id,
                side=RootCauseSide.ANSWERING,
                partner_org_id=oem.org_id,
                status=status,
                answer_text=text,
                grant_id=grant.id,
                answered_at=None if status is RootCauseStatus.PENDING_REVIEW else utcnow(),
                repeat_of=original.id,
                **question,
            )
        )
        session.audit.record(
            "receive",
            "root_cause_request",
            row.id,
            grant_id=grant.id,
            detail={"from": oem.org_id, "request_id": row.request_id, "repeat_of": original.id},
        )
        if status is RootCauseStatus.PENDING_REVIEW:
            return _text({"request_id": row.request_id, "status": "pending_review"})
        _audit_sent(session, row)
        return text


def _audit_sent(session: Session, row: RootCauseRequest) -> None:
    text = row.answer_text or ""
    session.audit.record(
        "send",
        "root_cause_answer",
        row.id,
        grant_id=row.grant_id,
        detail={"to": row.partner_org_id, "status": str(row.status), "bytes": len(text.encode())},
    )


def _keep_refusal(
    ctx: Collab,
    as_us: Caller,
    oem_org_id: str,
    question: dict[str, Any],
    reason: str,
    *,
    grant_id: str | None = None,
    budget_spent: bool = False,
    budget: bool = False,
) -> None:
    detail: dict[str, Any] = {"from": oem_org_id, "request_id": question["request_id"]}
    if budget:
        detail["budget"] = ctx.root_cause_requests_per_day
    audit_refusal(ctx.store, as_us.org_id, "root_cause_request", reason, detail)
    with ctx.store.session(as_us) as session:
        session.root_cause.add(
            RootCauseRequest(
                org_id=as_us.org_id,
                side=RootCauseSide.ANSWERING,
                partner_org_id=oem_org_id,
                status=RootCauseStatus.REFUSED,
                reason=reason,
                grant_id=grant_id,
                budget_spent=budget_spent,
                **question,
            )
        )


def decide(ctx: Collab, caller: Caller, row_id: str, approve: bool) -> RootCauseRequest:
    """A supplier admin approves (the kept JSON is sent as it is) or declines an answer
    that waits for review; the grant must still be in force to send it.

    The decision is stored first with its delivery pending, then offered to the OEM at
    once; when the OEM's install cannot be reached the row says so (attempts, next try,
    last error) and the job runner's outbox lane retries until it is delivered."""
    if not caller.can(Role.ADMIN):
        raise Forbidden("only an admin may approve or decline a root-cause answer")
    with ctx.store.session(caller) as session:
        row = session.root_cause.get(row_id)
        if (
            row.side is not RootCauseSide.ANSWERING
            or row.status is not RootCauseStatus.PENDING_REVIEW
        ):
            raise StateConflict("status", f"the answer is {row.status}, not waiting for review")
        grant = _grant(session, row.partner_org_id)
    if approve and grant is None:
        reason = f"no ROOT_CAUSE grant to {row.partner_org_id} is in force any more"
        audit_refusal(ctx.store, caller.org_id, "root_cause_answer", reason, {"row": row_id})
        raise Forbidden(reason)
    if approve:
        text, status = row.answer_text or "", RootCauseStatus.ANSWERED
    else:
        status = RootCauseStatus.DECLINED
        text = _text(
            {
                "request_id": row.request_id,
                "status": "declined",
                "reason": "the supplier's admin declined to answer",
            }
        )
    with ctx.store.session(caller) as session:
        now = utcnow()
        row = delivery.mark_pending(
            session,
            row_id,
            now,
            status=status,
            answer_text=text,
            decided_by=caller.user_id,
            answered_at=now,
        )
        session.audit.record(
            "approve" if approve else "decline",
            "root_cause_answer",
            row.id,
            grant_id=row.grant_id,
            detail={"to": row.partner_org_id},
        )
    return delivery.attempt(ctx, caller.org_id, row_id, receive_answer)


def deliver_due(ctx: Collab) -> int:
    """Retry the deliveries of reviewed answers whose next try has come (the job runner's
    outbox lane calls this); returns how many reached their OEM."""
    return delivery.deliver_due(ctx, receive_answer)


def set_review(ctx: Collab, caller: Caller, grant_id: str, review: bool) -> ShareGrant:
    """Choose auto-answer (False) or review-before-send (True) for a ROOT_CAUSE grant."""
    with ctx.store.session(caller) as session:
        grant = session.grants.get(grant_id)
        if grant.scope is not GrantScope.ROOT_CAUSE:
            raise InvalidInput("grant_id", f"a {grant.scope} grant sends no root-cause answers")
        return session.grants.set_review_before_send(grant_id, review)
