"""The append-only audit log, written in the same transaction as what it records."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, insert

from dure.domain.audit import AuditEvent
from dure.domain.users import Caller
from dure.store.rows import to_row
from dure.store.tables import audit_events


class AuditLog:
    """Writes audit events for one caller inside the caller's transaction.

    In a read-only session (``deferred``) the events wait in ``pending`` and the store
    writes them in a short transaction of their own once the read has finished, before
    anything is answered.
    """

    def __init__(self, conn: Connection, caller: Caller | None, deferred: bool = False) -> None:
        self._conn = conn
        self._caller = caller
        self._deferred = deferred
        self.pending: list[AuditEvent] = []

    def record(
        self,
        action: str,
        resource: str,
        resource_id: str | None = None,
        *,
        org_id: str | None = None,
        grant_id: str | None = None,
        detail: dict[str, Any] | None = None,
    ) -> AuditEvent:
        """Append one event; ``org_id`` is whose data it concerns (default: the caller's)."""
        caller = self._caller
        owner = org_id or (caller.org_id if caller else None)
        if owner is None:
            raise ValueError("an audit event needs the organisation it concerns")
        event = AuditEvent(
            org_id=owner,
            action=action,
            resource=resource,
            resource_id=resource_id,
            actor_org_id=caller.org_id if caller else None,
            actor_user_id=caller.user_id if caller else None,
            grant_id=grant_id,
            detail=detail or {},
        )
        if self._deferred:
            self.pending.append(event)
        else:
            self._conn.execute(insert(audit_events).values(**to_row(event, audit_events)))
        return event


def write_events(conn: Connection, events: list[AuditEvent]) -> None:
    """Append events recorded during a read-only session."""
    if events:
        conn.execute(insert(audit_events), [to_row(e, audit_events) for e in events])
