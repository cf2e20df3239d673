"""Delivering answers decided after review to the OEM, durably (the supplier's side).

A supplier admin's approval (or decline) is stored first with a 'delivery pending' mark;
the answer is then offered to the OEM's install at once. When that fails (the OEM's
install is down) the row keeps the attempt count, the next try and the last error, and
the job runner's outbox lane tries again when it is due, waiting a minute after the first
failure and doubling to an hour, until the OEM has it. The OEM's install keeps a
redelivered answer once (``root_cause.receive_answer`` is idempotent). A grant revoked
before the OEM took the answer stops the delivery for good, audited.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from dure.domain.ids import utcnow
from dure.domain.root_cause import (
    DELIVERY_FIRST_RETRY,
    DeliveryState,
    RootCauseRequest,
    retry_delay,
)
from dure.domain.users import Caller, Role
from dure.errors import DureError, NotFound
from dure.services.collaboration.context import Collab
from dure.store.session import Session

log = logging.getLogger(__name__)
ANSWER_PATH = "/peer/v1/root-cause-answers"
# How the answer reaches an OEM organisation of this same install (no HTTP):
# root_cause.receive_answer(ctx, supplier, oem_org_id, text)
ReceiveHere = Callable[[Collab, Caller, str, str], Any]


def _as_supplier(org_id: str) -> Caller:
    return Caller(org_id=org_id, user_id=None, role=Role.ADMIN, org_kind="supplier")


def mark_pending(session: Session, row_id: str, now: datetime, **decision: Any) -> RootCauseRequest:
    """Keep a decision with its delivery pending; the first attempt is the caller's to
    make now (the outbox lane takes it only if that attempt never settles)."""
    return session.root_cause.update_fields(
        row_id,
        **decision,
        delivery=DeliveryState.PENDING,
        delivery_attempts=0,
        delivery_next_at=now + DELIVERY_FIRST_RETRY,
        delivery_error=None,
        delivery_failing_since=None,
    )


def _grant_revoked(session: Session, row: RootCauseRequest, now: datetime) -> str | None:
    """Why the answer may no longer leave (its grant revoked or expired), else None."""
    if row.grant_id is None:
        return None
    try:
        grant = session.grants.get(row.grant_id)
    except NotFound:
        return f"the ROOT_CAUSE grant {row.grant_id} is gone"
    if not grant.active(now):
        return f"the ROOT_CAUSE grant to {row.partner_org_id} was revoked before delivery"
    return None


def attempt(ctx: Collab, org_id: str, row_id: str, receive_here: ReceiveHere) -> RootCauseRequest:
    """Offer one pending answer of ``org_id`` to its OEM once; returns the row as it then
    stands (delivered; still pending with the error and the next try; or stopped)."""
    us = _as_supplier(org_id)
    now = utcnow()
    with ctx.store.session(us) as session:
        row = session.root_cause.get(row_id)
        if row.delivery is not DeliveryState.PENDING:
            return row
        stop = _grant_revoked(session, row, now)
        if stop is not None:
            session.audit.record(
                "stop_delivery",
                "root_cause_answer",
                row.id,
                grant_id=row.grant_id,
                detail={"to": row.partner_org_id, "reason": stop},
            )
            return session.root_cause.update_fields(
                row.id, delivery=DeliveryState.STOPPED, delivery_next_at=None, delivery_error=stop
            )
    with ctx.store.system(read_only=True) as system:
        partner = system.peers.partner_between(org_id, row.partner_org_id)
    text = row.answer_text or ""
    try:
        if partner is None:
            receive_here(ctx, us, row.partner_org_id, text)
        else:
            ctx.client(partner).post(ANSWER_PATH, json.loads(text))
    except DureError as exc:
        return _failed(ctx, us, row, str(exc))
    with ctx.store.session(us) as session:
        row = session.root_cause.update_fields(
            row.id,
            delivery=DeliveryState.DELIVERED,
            delivered_at=utcnow(),
            delivery_attempts=row.delivery_attempts + 1,
            delivery_next_at=None,
            delivery_error=None,
        )
        text_bytes = len(text.encode())
        session.audit.record(
            "send",
            "root_cause_answer",
            row.id,
            grant_id=row.grant_id,
            detail={"to": row.partner_org_id, "status": str(row.status), "bytes": text_bytes},
        )
        return row


def _failed(ctx: Collab, us: Caller, row: RootCauseRequest, error: str) -> RootCauseRequest:
    now = utcnow()
    attempts = row.delivery_attempts + 1
    with ctx.store.session(us) as session:
        session.audit.record(
            "delivery_failed",
            "root_cause_answer",
            row.id,
            grant_id=row.grant_id,
            detail={"to": row.partner_org_id, "attempt": attempts, "error": error[:300]},
        )
        return session.root_cause.update_fields(
            row.id,
            delivery_attempts=attempts,
            delivery_next_at=now + retry_delay(attempts),
            delivery_error=error[:1000],
            delivery_failing_since=row.delivery_failing_since or now,
        )


def deliver_due(
    ctx: Collab, receive_here: ReceiveHere, now: datetime | None = None, limit: int = 50
) -> int:
    """Try every pending delivery whose next try has come (each taken first, so two
    workers never send the same answer at once); returns how many were delivered."""
    now = now or utcnow()
    with ctx.store.system(read_only=True) as system:
        due = system.root_cause_deliveries.due(now, limit)
    delivered = 0
    for org_id, row_id in due:
        try:
            with ctx.store.session(_as_supplier(org_id)) as session:
                row = session.root_cause.get(row_id)
                until = now + retry_delay(row.delivery_attempts + 1)
                if not session.root_cause.claim_delivery(row_id, now, until):
                    continue
            done = attempt(ctx, org_id, row_id, receive_here)
        except Exception:  # noqa: BLE001 - one bad row must not stop the others
            log.exception("delivering root-cause answer %s failed", row_id)
            continue
        delivered += done.delivery is DeliveryState.DELIVERED
    return delivered
