"""Root-cause requests, each side's own rows: what an OEM asked, what a supplier answered."""

from __future__ import annotations

from sqlalchemy import select

from dure.domain.root_cause import RootCauseRequest, RootCauseSide
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
