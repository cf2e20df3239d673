"""Repositories of the caller's edge boxes and the signed packages built for them."""

from __future__ import annotations

import dataclasses
from typing import Any

from sqlalchemy import select, update

from dure.domain.edge import EdgeDevice, EdgePackage
from dure.domain.ids import utcnow
from dure.domain.users import Role
from dure.errors import Forbidden, NotFound, Unauthenticated
from dure.store import tables as t
from dure.store.scoped import ScopedRepository, check_text


class EdgeDeviceRepository(ScopedRepository[EdgeDevice]):
    """The caller's edge boxes; engineers register and assign them."""

    table = t.edge_devices
    entity = EdgeDevice
    resource = "edge_device"
    write_role = Role.ENGINEER

    def check_references(self, item: EdgeDevice) -> None:
        self.require_own(t.stations, "station_id", item.station_id)
        self.require_own(t.part_numbers, "part_id", item.part_id)

    def own_device(self, edge_id: str) -> EdgeDevice | None:
        """One of the caller's own boxes, or None (another organisation's is None too)."""
        row = self.conn.execute(
            select(self.table).where(
                self.table.c.id == edge_id, self.table.c.org_id == self.caller.org_id
            )
        ).first()
        return None if row is None else self.from_row(row)

    def assign(self, edge_id: str, **changes: str | None) -> EdgeDevice:
        """Change where one of the caller's boxes inspects and with what (station, part,
        model); audited as ``assign`` with each changed field's old and new value."""
        self.require_write()
        current = self.own_device(edge_id)
        if current is None:
            raise NotFound(f"{self.resource} {edge_id!r} does not exist or is not yours")
        changed = dataclasses.replace(current, **changes)
        check_text(changed)
        self.check_references(changed)
        moved = {
            name: {"from": getattr(current, name), "to": value}
            for name, value in changes.items()
            if getattr(current, name) != value
        }
        if moved:
            self.conn.execute(
                update(self.table)
                .where(self.table.c.id == edge_id, self.table.c.org_id == self.caller.org_id)
                .values(**{name: changes[name] for name in moved})
            )
            self.audit.record("assign", self.resource, edge_id, detail=moved)
        return changed

    def retire(self, edge_id: str) -> EdgeDevice:
        """Retire one of the caller's boxes (engineers; audited ``retire`` the first time):
        from now on its posts and model reads are refused; what it sent stays."""
        self.require_write()
        current = self.own_device(edge_id)
        if current is None:
            raise NotFound(f"{self.resource} {edge_id!r} does not exist or is not yours")
        if current.retired_at is not None:
            return current
        current.retired_at = utcnow()
        self.conn.execute(
            update(self.table)
            .where(self.table.c.id == edge_id, self.table.c.org_id == self.caller.org_id)
            .values(retired_at=current.retired_at)
        )
        self.audit.record("retire", self.resource, edge_id, detail={"name": current.name})
        return current

    def note_results(self, edge_id: str, stored: int) -> None:
        """The box was heard from now and ``stored`` more of its results were kept (needs
        the operator role: the box posts with an operator's token; not audited, the
        stored inspections are the trace)."""
        if not self.caller.can(Role.OPERATOR):
            raise Forbidden("posting edge results needs the operator role or higher")
        found = self.conn.execute(
            update(self.table)
            .where(
                self.table.c.id == edge_id,
                self.table.c.org_id == self.caller.org_id,
                self.table.c.retired_at.is_(None),  # retired meanwhile: nothing is kept
            )
            .values(
                last_seen_at=utcnow(),
                results_received=self.table.c.results_received + stored,
            )
        )
        if found.rowcount == 0:
            raise Unauthenticated(f"{self.resource} {edge_id!r} is retired or not yours")

    def keep_parity(self, edge_id: str, report: dict[str, Any]) -> None:
        """Keep a box's parity report (operators: the box posts it with an operator's
        token); audited as ``parity`` with its status, the package and the cause."""
        if not self.caller.can(Role.OPERATOR):
            raise Forbidden("posting edge parity needs the operator role or higher")
        found = self.conn.execute(
            update(self.table)
            .where(
                self.table.c.id == edge_id,
                self.table.c.org_id == self.caller.org_id,
                self.table.c.retired_at.is_(None),
            )
            .values(parity=report, last_seen_at=utcnow())
        )
        if found.rowcount == 0:
            raise Unauthenticated(f"{self.resource} {edge_id!r} is retired or not yours")
        detail = {k: report.get(k) for k in ("package_id", "status", "cause")}
        self.audit.record("parity", self.resource, edge_id, detail=detail)

    def note_package(self, edge_id: str, package_id: str) -> int:
        """The box's assignment number for ``package_id``: grown by one when that package
        is not the one it was last pointed at (operators: a box's ask records it; not
        audited, the assign and threshold changes that cause it are)."""
        if not self.caller.can(Role.OPERATOR):
            raise Forbidden("asking for an edge box's model needs the operator role or higher")
        c = self.table.c
        mine = (c.id == edge_id) & (c.org_id == self.caller.org_id)
        self.conn.execute(
            update(self.table)
            .where(
                mine,
                (c.assigned_package_id.is_(None)) | (c.assigned_package_id != package_id),
            )
            .values(assignment=c.assignment + 1, assigned_package_id=package_id)
        )
        number = self.conn.execute(select(c.assignment).where(mine)).scalar()
        if number is None:
            raise NotFound(f"{self.resource} {edge_id!r} does not exist or is not yours")
        return int(number)


class EdgePackageRepository(ScopedRepository[EdgePackage]):
    """Signed edge packages the caller's organisation built (a cache keyed by model version
    and threshold); operators may add one, as a box's first ask for its model builds it."""

    table = t.edge_packages
    entity = EdgePackage
    resource = "edge_package"
    write_role = Role.OPERATOR

    def built(self, model_version_id: str, threshold_key: str) -> EdgePackage | None:
        """The package already built for this model version at this threshold, if any."""
        row = self.conn.execute(
            select(self.table).where(
                self.table.c.org_id == self.caller.org_id,
                self.table.c.model_version_id == model_version_id,
                self.table.c.threshold_key == threshold_key,
            )
        ).first()
        return None if row is None else self.from_row(row)

    def own_package(self, package_id: str) -> EdgePackage | None:
        """One of the caller's own packages, or None."""
        row = self.conn.execute(
            select(self.table).where(
                self.table.c.id == package_id, self.table.c.org_id == self.caller.org_id
            )
        ).first()
        return None if row is None else self.from_row(row)
