"""Repository of the failures, repairs and replacements of the caller's machines."""

from __future__ import annotations

from sqlalchemy import delete

from dure.domain.maintenance import MaintenanceEvent, MaintenanceKind
from dure.domain.users import Role
from dure.errors import NotFound
from dure.store import tables as t
from dure.store.scoped import ScopedRepository


class MaintenanceEventRepository(ScopedRepository[MaintenanceEvent]):
    """The caller's maintenance events, ordered by when they happened."""

    table = t.maintenance_events
    entity = MaintenanceEvent
    resource = "maintenance_event"
    write_role = Role.OPERATOR  # the people at the machine record what they did to it
    order_by = "occurred_at"

    def check_references(self, item: MaintenanceEvent) -> None:
        self.require_own(t.assets, "asset_id", item.asset_id)

    def of_asset(self, asset_id: str) -> list[MaintenanceEvent]:
        """The events of one of the caller's own assets, oldest first; at the same instant
        a failure comes before a repair or replacement (it ends the run they restart)."""
        events = self.list_own(asset_id=asset_id)
        return sorted(events, key=lambda e: (e.occurred_at, e.kind is not MaintenanceKind.FAILURE))

    def remove(self, asset_id: str, event_id: str) -> MaintenanceEvent:
        """Delete one of the caller's own events of ``asset_id`` (one entered by mistake);
        NotFound when there is no such event of the caller's. The deletion is audited."""
        self.require_write()
        found = [e for e in self.list_own(id=event_id) if e.asset_id == asset_id]
        if not found:
            raise NotFound(f"{self.resource} {event_id!r} does not exist or is not yours")
        self.conn.execute(
            delete(self.table).where(
                self.table.c.id == event_id, self.table.c.org_id == self.caller.org_id
            )
        )
        event = found[0]
        self.audit.record(
            "delete",
            self.resource,
            event_id,
            detail={
                "asset_id": asset_id,
                "kind": str(event.kind),
                "occurred_at": event.occurred_at.isoformat(),
            },
        )
        return event
