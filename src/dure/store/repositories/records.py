"""Repositories of inspection records and process records."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import and_, func, or_, select
from sqlalchemy.dialects import postgresql, sqlite

from dure.domain.grants import GrantScope
from dure.domain.ids import utcnow
from dure.domain.live_checks import SubjectKind
from dure.domain.records import InspectionRecord, ProcessRecord, ReviewDecision, Verdict
from dure.domain.times import as_utc
from dure.domain.users import Role
from dure.errors import InvalidInput
from dure.store import tables as t
from dure.store.repositories.live_checks import mark_pending
from dure.store.rows import to_entity, to_row
from dure.store.scoped import ScopedRepository


class InspectionRepository(ScopedRepository[InspectionRecord]):
    """Inspection records of the caller, and those shared with it by grant."""

    table = t.inspection_records
    entity = InspectionRecord
    resource = "inspection"
    grant_scope = GrantScope.INSPECTION_RECORDS
    write_role = Role.OPERATOR
    order_by = "taken_at"

    def check_references(self, item: InspectionRecord) -> None:
        self.require_own(t.part_numbers, "part_id", item.part_id)
        self.require_own(t.lots, "lot_id", item.lot_id)
        self.require_own(t.stations, "station_id", item.station_id)
        self.require_own(t.model_versions, "model_version_id", item.model_version_id)
        for field in ("image_sha256", "heatmap_sha256"):
            sha = getattr(item, field)
            if sha is None:
                continue
            owned = self.conn.execute(
                select(t.blobs.c.sha256).where(
                    t.blobs.c.org_id == self.caller.org_id, t.blobs.c.sha256 == sha
                )
            ).first()
            if owned is None:
                raise InvalidInput(field, f"{sha!r} is not an uploaded blob of yours")

    def made_from(self, source_keys: Sequence[str]) -> dict[str, InspectionRecord]:
        """The caller's records made from ``source_keys`` (see ``InspectionRecord.source_key``),
        by key: what a resumed or resent batch has already done."""
        if not source_keys:
            return {}
        rows = self.conn.execute(
            select(t.inspection_records).where(
                t.inspection_records.c.org_id == self.caller.org_id,
                t.inspection_records.c.source_key.in_(list(source_keys)),
            )
        ).all()
        records = [to_entity(InspectionRecord, row) for row in rows]
        return {r.source_key: r for r in records if r.source_key is not None}

    def created_since(self, moment: datetime, limit: int = 200) -> list[InspectionRecord]:
        """The caller's own records stored after ``moment``, oldest first (the line stream)."""
        table = t.inspection_records
        rows = self.conn.execute(
            select(table)
            .where(table.c.org_id == self.caller.org_id, table.c.created_at > as_utc(moment))
            .order_by(table.c.created_at, table.c.id)
            .limit(limit)
        ).all()
        return [self.from_row(r) for r in rows]

    def check_placement(self, part_id: str, lot_id: str | None, station_id: str | None) -> None:
        """Raise unless the caller may write inspections and owns the part, lot and station
        (checked before anything is computed or stored)."""
        self.require_write()
        self.require_own(t.part_numbers, "part_id", part_id)
        self.require_own(t.lots, "lot_id", lot_id)
        self.require_own(t.stations, "station_id", station_id)

    def of_line(self, line_id: str, since: datetime) -> list[InspectionRecord]:
        """The caller's inspections at the stations of one of its lines since ``since``,
        oldest first."""
        stations = select(t.stations.c.id).where(
            t.stations.c.line_id == line_id, t.stations.c.org_id == self.caller.org_id
        )
        table = t.inspection_records
        rows = self.conn.execute(
            select(table)
            .where(
                table.c.org_id == self.caller.org_id,
                table.c.station_id.in_(stations),
                table.c.taken_at >= as_utc(since),
            )
            .order_by(table.c.taken_at, table.c.id)
        ).all()
        return [to_entity(InspectionRecord, r) for r in rows]

    def awaiting_review(
        self, line_id: str | None = None, limit: int = 50
    ) -> tuple[list[InspectionRecord], int]:
        """The caller's flagged (NG or unsure) records nobody reviewed yet, oldest first
        (at most ``limit``), and how many wait in all; ``line_id`` keeps one line's."""
        table = t.inspection_records
        where = and_(
            table.c.org_id == self.caller.org_id,
            table.c.review_decision.is_(None),
            or_(table.c.verdict == Verdict.NG.value, table.c.verdict == Verdict.UNSURE.value),
        )
        if line_id is not None:
            stations = select(t.stations.c.id).where(
                t.stations.c.line_id == line_id, t.stations.c.org_id == self.caller.org_id
            )
            where = and_(where, table.c.station_id.in_(stations))
        rows = self.conn.execute(
            select(table).where(where).order_by(table.c.taken_at, table.c.id).limit(limit)
        ).all()
        waiting = self.conn.execute(select(func.count()).select_from(table).where(where))
        return [to_entity(InspectionRecord, r) for r in rows], int(waiting.scalar_one())

    def own_of_lots_or_serials(
        self, lot_ids: Sequence[str], serials: Sequence[str]
    ) -> list[InspectionRecord]:
        """The caller's inspections of any of ``lot_ids`` or ``serials``, oldest first."""
        table = t.inspection_records
        wanted = []
        if lot_ids:
            wanted.append(table.c.lot_id.in_(list(lot_ids)))
        if serials:
            wanted.append(table.c.serial.in_(list(serials)))
        if not wanted:
            return []
        rows = self.conn.execute(
            select(table)
            .where(table.c.org_id == self.caller.org_id, or_(*wanted))
            .order_by(table.c.taken_at, table.c.id)
        ).all()
        return [to_entity(InspectionRecord, r) for r in rows]

    def review(
        self, record_id: str, decision: ReviewDecision, defect_type: str | None
    ) -> InspectionRecord:
        """Store a reviewer's decision on one of the caller's own records."""
        if decision is ReviewDecision.RELABEL and not defect_type:
            raise InvalidInput("defect_type", "a relabel decision needs the new defect type")
        changes: dict[str, object] = {
            "review_decision": decision,
            "reviewed_by": self.caller.user_id,
            "reviewed_at": utcnow(),
        }
        if defect_type:
            changes["defect_type"] = defect_type
        return self.update_fields(record_id, **changes)


class ProcessRecordRepository(ScopedRepository[ProcessRecord]):
    """Process records of the caller, and those shared with it by grant."""

    table = t.process_records
    entity = ProcessRecord
    resource = "process_record"
    grant_scope = GrantScope.PROCESS_RECORDS
    write_role = Role.OPERATOR
    order_by = "recorded_at"

    def check_references(self, item: ProcessRecord) -> None:
        self.require_own(t.part_numbers, "part_id", item.part_id)
        self.require_own(t.lots, "lot_id", item.lot_id)
        self.require_own(t.lines, "line_id", item.line_id)

    def extra_columns(self, item: ProcessRecord) -> dict[str, object]:
        return {
            "natural_key": natural_key(item.part_id, item.lot_id, item.serial, item.recorded_at)
        }

    def own_parts(self) -> list[str]:
        """The ids of the caller's parts that have process records."""
        rows = self.conn.execute(
            select(t.process_records.c.part_id)
            .where(t.process_records.c.org_id == self.caller.org_id)
            .distinct()
        ).all()
        return sorted(r.part_id for r in rows)

    def own_by_serials(self, serials: Sequence[str]) -> list[ProcessRecord]:
        """The caller's process records of any of ``serials``, oldest first."""
        if not serials:
            return []
        table = t.process_records
        rows = self.conn.execute(
            select(table)
            .where(table.c.org_id == self.caller.org_id, table.c.serial.in_(list(serials)))
            .order_by(table.c.recorded_at, table.c.id)
        ).all()
        return [to_entity(ProcessRecord, r) for r in rows]

    def add_new(self, records: list[ProcessRecord]) -> int:
        """Insert records of the caller's own parts, lots and lines, skipping any already
        stored (same part, lot, serial and time); returns how many were new.

        The part, lot and line of every record are checked first, so a foreign reference
        refuses the whole call before anything is written.
        """
        self.require_write()
        for field, ids in (
            ("part_id", {r.part_id for r in records}),
            ("lot_id", {r.lot_id for r in records if r.lot_id}),
            ("line_id", {r.line_id for r in records if r.line_id}),
        ):
            table = {"part_id": t.part_numbers, "lot_id": t.lots, "line_id": t.lines}[field]
            for value in sorted(ids):
                self.require_own(table, field, value)
        rows = [
            {
                **to_row(r, t.process_records),
                **self.extra_columns(r),
                "org_id": self.caller.org_id,
            }
            for r in records
        ]
        if not rows:
            return 0
        dialect = postgresql if self.conn.dialect.name == "postgresql" else sqlite
        stmt = (
            dialect.insert(t.process_records)
            .on_conflict_do_nothing(index_elements=["org_id", "natural_key"])
            .returning(t.process_records.c.id)
        )
        new = 0
        for start in range(0, len(rows), 5000):
            # rowcount is unreliable for batched inserts; count what RETURNING hands back
            new += len(self.conn.execute(stmt, rows[start : start + 5000]).all())
        if new:  # the live checks of these parts run on what was just written
            mark_pending(
                self.conn, self.caller.org_id, SubjectKind.PART, {r.part_id for r in records}
            )
        return new

    def add(self, item: ProcessRecord) -> ProcessRecord:
        """Insert one record of the caller's own part (its live checks are marked)."""
        added = super().add(item)
        mark_pending(self.conn, self.caller.org_id, SubjectKind.PART, [added.part_id])
        return added


def natural_key(part_id: str, lot_id: str | None, serial: str | None, at: datetime) -> str:
    """The identity of a process record: same part, lot, serial and time is the same record."""
    moment = at if at.tzinfo else at.replace(tzinfo=UTC)
    stamp = moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return f"{part_id}|{lot_id or ''}|{serial or ''}|{stamp}"
