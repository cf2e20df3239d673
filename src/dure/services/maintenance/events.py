"""Record what was done to a machine: failures, repairs and replacements.

Times are checked against the machine's readings: an event in the future, or before the
machine's first reading (there is no run to end or start there), is refused naming
``occurred_at``. A failure ends a run the run-to-failure model learns from.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from dure.domain.ids import utcnow
from dure.domain.maintenance import MAX_NOTE, MaintenanceEvent, MaintenanceKind
from dure.domain.times import as_utc, from_us, to_us
from dure.errors import InvalidInput
from dure.services.maintenance.run_to_failure import first_reading_us
from dure.store.session import Session

CLOCK_SKEW = timedelta(minutes=5)  # a time this far ahead of the server's clock is "now"


def record_event(
    session: Session, asset_id: str, kind: str, occurred_at: datetime, note: str = ""
) -> MaintenanceEvent:
    """Record a failure, repair or replacement of one of the caller's machines (NotFound
    for another organisation's); bad input is refused naming the field."""
    asset = session.assets.get(asset_id)
    try:
        event_kind = MaintenanceKind(kind)
    except ValueError:
        choices = [k.value for k in MaintenanceKind]
        raise InvalidInput("kind", f"{kind!r} is not one of {choices}") from None
    moment = as_utc(occurred_at)
    if moment > utcnow() + CLOCK_SKEW:
        raise InvalidInput("occurred_at", f"{moment.isoformat()} is in the future")
    first = first_reading_us(session, asset)
    if first is not None and to_us(moment) < first:
        raise InvalidInput(
            "occurred_at",
            f"{moment.isoformat()} is before the machine's first reading "
            f"({from_us(first).isoformat()}): there is no run of it to end or start there",
        )
    if len(note) > MAX_NOTE:
        raise InvalidInput("note", f"at most {MAX_NOTE} characters, got {len(note)}")
    return session.maintenance_events.add(
        MaintenanceEvent(
            org_id=session.caller.org_id,
            asset_id=asset.id,
            kind=event_kind,
            occurred_at=moment,
            note=note,
            created_by=session.caller.user_id,
        )
    )


def events_of(session: Session, asset_id: str) -> list[MaintenanceEvent]:
    """The events of one of the caller's machines, newest first (NotFound otherwise)."""
    asset = session.assets.get(asset_id)
    return list(reversed(session.maintenance_events.of_asset(asset.id)))


def delete_event(session: Session, asset_id: str, event_id: str) -> MaintenanceEvent:
    """Delete an event entered by mistake (audited); NotFound unless it is the caller's
    and of that machine."""
    asset = session.assets.get(asset_id)
    return session.maintenance_events.remove(asset.id, event_id)
