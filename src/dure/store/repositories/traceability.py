"""Shipments (the supplier's, readable by the OEM they were sent to) and the OEM's part
defects (its own only)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, and_, or_, select, update

from dure.domain.ids import utcnow
from dure.domain.traceability import PartDefect, Shipment
from dure.domain.users import Role
from dure.errors import InvalidInput, NotFound
from dure.store import tables as t
from dure.store.scoped import ScopedRepository


class ShipmentRepository(ScopedRepository[Shipment]):
    """The caller's own shipments, plus the shipments suppliers sent to the caller."""

    table = t.shipments
    entity = Shipment
    resource = "shipment"
    write_role = Role.ENGINEER
    order_by = "shipped_at"

    def visible(self) -> ColumnElement[bool]:
        me = self.caller.org_id
        sent_to_me = and_(self.table.c.oem_org_id == me, self.table.c.sent_at.is_not(None))
        return or_(self.table.c.org_id == me, sent_to_me)

    def _audit_shared_reads(self, items: list[Shipment]) -> None:
        # A shipment is the supplier's notice to the OEM: its sending is what is audited.
        return None

    def check_references(self, item: Shipment) -> None:
        self.require_own(t.part_numbers, "part_id", item.part_id)

    def mark_sent(self, shipment_id: str) -> Shipment:
        """Note that the OEM was told of one of our shipments just now (audited)."""
        self.require_write()
        now = utcnow()
        found = self.conn.execute(
            update(self.table)
            .where(self.table.c.id == shipment_id, self.table.c.org_id == self.caller.org_id)
            .values(sent_at=now)
        )
        if found.rowcount == 0:
            raise NotFound(f"{self.resource} {shipment_id!r} does not exist or is not yours")
        self.audit.record("send", self.resource, shipment_id)
        return self.get(shipment_id)

    def received(self, supplier_org_id: str | None = None) -> list[Shipment]:
        """Shipments sent to the caller (by one supplier, or all), oldest first."""
        query = select(self.table).where(
            self.table.c.oem_org_id == self.caller.org_id,
            self.table.c.org_id != self.caller.org_id,
            self.table.c.sent_at.is_not(None),
        )
        if supplier_org_id is not None:
            query = query.where(self.table.c.org_id == supplier_org_id)
        rows = self.conn.execute(query.order_by(self.table.c.shipped_at, self.table.c.id))
        return [self.from_row(r) for r in rows]

    def own_sent_to(self, oem_org_id: str) -> list[Shipment]:
        """The caller's own shipments that were sent to ``oem_org_id``, oldest first."""
        rows = self.conn.execute(
            select(self.table)
            .where(
                self.table.c.org_id == self.caller.org_id,
                self.table.c.oem_org_id == oem_org_id,
                self.table.c.sent_at.is_not(None),
            )
            .order_by(self.table.c.shipped_at, self.table.c.id)
        )
        return [self.from_row(r) for r in rows]

    def oem_part_number(self, oem_part_id: str | None, oem_org_id: str) -> str | None:
        """The number of the OEM's part ``oem_part_id`` when it is ``oem_org_id``'s and that
        OEM is linked to the caller as its supplier; else None."""
        if oem_part_id is None:
            return None
        row = self.conn.execute(
            select(t.part_numbers.c.number)
            .join(t.supplier_links, t.supplier_links.c.oem_id == t.part_numbers.c.org_id)
            .where(
                t.part_numbers.c.id == oem_part_id,
                t.part_numbers.c.org_id == oem_org_id,
                t.supplier_links.c.supplier_id == self.caller.org_id,
            )
        ).first()
        return None if row is None else str(row.number)

    def own_by_id(self, shipment_id: str) -> Shipment | None:
        """One of the caller's own shipments (by id) or None; a received one is None too."""
        row = self.conn.execute(
            select(self.table).where(
                self.table.c.id == shipment_id, self.table.c.org_id == self.caller.org_id
            )
        ).first()
        return None if row is None else self.from_row(row)


class PartDefectRepository(ScopedRepository[PartDefect]):
    """The caller's (the OEM's) records of supplier parts found bad; never shared."""

    table = t.part_defects
    entity = PartDefect
    resource = "part_defect"
    write_role = Role.OPERATOR
    order_by = "found_at"

    def check_references(self, item: PartDefect) -> None:
        linked = self.conn.execute(
            select(t.supplier_links.c.id).where(
                t.supplier_links.c.oem_id == self.caller.org_id,
                t.supplier_links.c.supplier_id == item.supplier_org_id,
            )
        ).first()
        if linked is None:
            raise InvalidInput(
                "supplier_org_id", f"{item.supplier_org_id!r} is not a supplier linked to you"
            )

    def add_all(self, items: list[PartDefect]) -> list[PartDefect]:
        """Add several defects in one savepoint: all of them, or (on any error) none."""
        with self.conn.begin_nested():
            return [self.add(item) for item in items]

    def of_supplier(self, supplier_org_id: str | None = None, **filters: Any) -> list[PartDefect]:
        """The caller's defects (of one supplier, or all), oldest first."""
        if supplier_org_id is not None:
            filters["supplier_org_id"] = supplier_org_id
        return self.list_own(**filters)
