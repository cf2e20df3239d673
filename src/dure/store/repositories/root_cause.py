"""Root-cause requests, each side's own rows: what an OEM asked, what a supplier answered;
the budget a grant has spent, and the answers waiting to be delivered."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, select, update

from dure.domain.root_cause import DeliveryState, RootCauseRequest, RootCauseSide
from dure.errors import NotFound
from dure.store import tables as t
from dure.store.rows import to_entity
from dure.store.scoped import ScopedRepository


class RootCauseRepository(ScopedRepository[RootCauseRequest]):
    """The caller's organisation's root-cause requests (never another's: no grant reads them)."""

    table = t.root_cause_requests
    entity = RootCauseRequest
    resource = "root_cause_request"

    def by_request(
        self, request_id: str, side: RootCauseSide, partner_org_id: str
    ) -> RootCauseRequest:
        """Our row of request ``request_id`` on ``side`` with ``partner_org_id``; NotFound."""
        row = self.conn.execute(
            select(t.root_cause_requests).where(
                t.root_cause_requests.c.org_id == self.caller.org_id,
                t.root_cause_requests.c.request_id == request_id,
                t.root_cause_requests.c.side == RootCauseSide(side).value,
                t.root_cause_requests.c.partner_org_id == partner_org_id,
            )
        ).first()
        if row is None:
            raise NotFound(f"root-cause request {request_id!r} is not one of yours")
        return to_entity(RootCauseRequest, row)  # type: ignore[no-any-return]

    def spent_since(self, grant_id: str, since: datetime) -> list[RootCauseRequest]:
        """Our answering rows under ``grant_id`` computed (budget spent) at or after
        ``since``, oldest first: what the grant's rolling budget counts."""
        return self.own_between(
            since, None, grant_id=grant_id, budget_spent=True, side=RootCauseSide.ANSWERING.value
        )

    def claim_delivery(self, row_id: str, now: datetime, until: datetime) -> bool:
        """Take one of our answers whose delivery is due for an attempt: its next try moves
        to ``until`` (so no other worker takes it meanwhile); False when it is not due."""
        self.require_write()
        c = t.root_cause_requests.c
        done = self.conn.execute(
            update(t.root_cause_requests)
            .where(
                c.id == row_id,
                c.org_id == self.caller.org_id,
                c.delivery == DeliveryState.PENDING.value,
                c.delivery_next_at <= now,
            )
            .values(delivery_next_at=until)
        )
        return bool(done.rowcount == 1)


class RootCauseDeliveries:
    """Every organisation's answers waiting to be delivered to their OEM (a system view for
    the job runner's outbox lane)."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def due(self, now: datetime, limit: int = 50) -> list[tuple[str, str]]:
        """(organisation, row id) of pending deliveries whose next try has come, oldest first."""
        c = t.root_cause_requests.c
        rows = self._conn.execute(
            select(c.org_id, c.id)
            .where(c.delivery == DeliveryState.PENDING.value, c.delivery_next_at <= now)
            .order_by(c.delivery_next_at, c.id)
            .limit(limit)
        ).all()
        return [(str(r.org_id), str(r.id)) for r in rows]
