"""What changed for an organisation since a moment: the events the dashboard is pushed
(server-sent events) instead of polling — alerts raised or repeated, parts inspected.

The store is the source: any process that writes (the server's own workers, `dure`
commands, a second server) is seen, and a client that reconnects with the last event's
id misses nothing it could still be shown."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from dure.domain.users import Caller
from dure.store.session import Session, Store

MAX_PER_KIND = 100  # per poll: a burst of more is sent over the next polls


@dataclass(frozen=True)
class Change:
    """One event for the dashboard: its kind and JSON payload."""

    kind: str  # alert | inspection
    at: datetime
    data: dict[str, Any]


def changes_since(session: Session, moment: datetime) -> list[Change]:
    """Alerts raised or repeated and parts inspected after ``moment``, oldest first."""
    out = [
        Change(
            "alert",
            a.last_at,
            {
                "id": a.id,
                "kind": str(a.kind),
                "rule": a.rule,
                "message": a.message,
                "severity": a.severity,
                "status": str(a.status),
                "count": a.count,
                "link": a.link,
                "subject_id": a.subject_id,
                "last_at": a.last_at.isoformat(),
            },
        )
        for a in session.alerts.changed_since(moment, MAX_PER_KIND)
    ]
    out += [
        Change(
            "inspection",
            r.created_at,
            {
                "id": r.id,
                "part_id": r.part_id,
                "station_id": r.station_id,
                "verdict": str(r.verdict) if r.verdict else None,
                "score": r.score,
                "taken_at": r.taken_at.isoformat(),
            },
        )
        for r in session.inspections.created_since(moment, MAX_PER_KIND)
    ]
    return sorted(out, key=lambda c: c.at)


def read_changes(store: Store, caller: Caller, moment: datetime) -> list[Change]:
    """``changes_since`` in a read-only transaction of its own (one poll of a stream)."""
    with store.session(caller, read_only=True) as session:
        return changes_since(session, moment)
