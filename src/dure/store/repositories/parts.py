"""Repositories of parts, lots and the defect taxonomy."""

from __future__ import annotations

from sqlalchemy import ColumnElement, insert, or_, select, update

from dure.domain.parts import DefectType, LabelledImage, Lot, PartNumber
from dure.domain.users import Role
from dure.errors import Forbidden, InvalidInput
from dure.store import tables as t
from dure.store.rows import to_entity, to_row
from dure.store.scoped import ScopedRepository


class PartRepository(ScopedRepository[PartNumber]):
    """The caller's part numbers."""

    table = t.part_numbers
    entity = PartNumber
    resource = "part"

    def own_by_number(self, number: str) -> PartNumber | None:
        """The caller's part with this part number, if it makes one."""
        row = self.conn.execute(
            select(t.part_numbers).where(
                t.part_numbers.c.org_id == self.caller.org_id,
                t.part_numbers.c.number == number,
            )
        ).first()
        return None if row is None else to_entity(PartNumber, row)

    def check_references(self, item: PartNumber) -> None:
        if item.oem_part_id is None:
            return
        # A supplier may name the OEM part it makes, but only an OEM it is linked to.
        row = self.conn.execute(
            select(t.part_numbers.c.id)
            .join(t.supplier_links, t.supplier_links.c.oem_id == t.part_numbers.c.org_id)
            .where(
                t.part_numbers.c.id == item.oem_part_id,
                t.supplier_links.c.supplier_id == self.caller.org_id,
            )
        ).first()
        if row is None:
            raise InvalidInput(
                "oem_part_id", f"{item.oem_part_id!r} is not a part of an OEM you supply"
            )


class LotRepository(ScopedRepository[Lot]):
    """The caller's production lots."""

    table = t.lots
    entity = Lot
    resource = "lot"
    write_role = Role.OPERATOR

    def check_references(self, item: Lot) -> None:
        self.require_own(t.part_numbers, "part_id", item.part_id)
        self.require_own(t.lines, "line_id", item.line_id)


class DefectTypeRepository(ScopedRepository[DefectType]):
    """The defect taxonomy: the caller's own classes plus those of the OEMs it supplies."""

    table = t.defect_types
    entity = DefectType
    resource = "defect_type"
    order_by = "code"

    def visible(self) -> ColumnElement[bool]:
        oems = select(t.supplier_links.c.oem_id).where(
            t.supplier_links.c.supplier_id == self.caller.org_id
        )
        return or_(t.defect_types.c.org_id == self.caller.org_id, t.defect_types.c.org_id.in_(oems))

    def _audit_shared_reads(self, items: list[DefectType]) -> None:
        # An OEM's taxonomy is published to its suppliers by the link itself.
        return None


class LabelledImageRepository(ScopedRepository[LabelledImage]):
    """Images with known truth (good / defect type / mask) of the caller's parts."""

    table = t.labelled_images
    entity = LabelledImage
    resource = "labelled_image"

    def check_references(self, item: LabelledImage) -> None:
        self.require_own(t.part_numbers, "part_id", item.part_id)

    def keep_reviewed(self, part_id: str, image_sha256: str, record_id: str, label: str) -> str:
        """A reviewed inspection's image as a held-out labelled image of its part.

        Reviewing is an operator's job, so operators may make this one write. When the
        picture is already a labelled image of the part (a second review, or a teaching
        image inspected again), the person's label replaces the old one. Returns its id.
        """
        if not self.caller.can(Role.OPERATOR):
            raise Forbidden("reviewing needs the operator role or higher")
        self.require_own(t.part_numbers, "part_id", part_id)
        source = f"review-{record_id}"
        found = self.conn.execute(  # one labelled image per picture of a part
            select(self.table.c.id).where(
                self.table.c.org_id == self.caller.org_id,
                self.table.c.part_id == part_id,
                self.table.c.image_sha256 == image_sha256,
            )
        ).first()
        if found is not None:
            self.conn.execute(
                update(self.table).where(self.table.c.id == found.id).values(label=label)
            )
            self.audit.record("update", self.resource, found.id, detail={"label": label})
            return str(found.id)
        item = LabelledImage(
            org_id=self.caller.org_id,
            part_id=part_id,
            image_sha256=image_sha256,
            split="test",
            label=label,
            source_name=source,
        )
        self.conn.execute(insert(self.table).values(**to_row(item, self.table)))
        self.audit.record("create", self.resource, item.id, detail={"from_review": record_id})
        return item.id
