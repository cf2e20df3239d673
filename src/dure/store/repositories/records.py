"""Repositories of inspection records and process records."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from dure.domain.grants import GrantScope
from dure.domain.ids import utcnow
from dure.domain.records import InspectionRecord, ProcessRecord, ReviewDecision
from dure.domain.users import Role
from dure.errors import InvalidInput
from dure.store import tables as t
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


def natural_key(part_id: str, lot_id: str | None, serial: str | None, at: datetime) -> str:
    """The identity of a process record: same part, lot, serial and time is the same record."""
    moment = at if at.tzinfo else at.replace(tzinfo=UTC)
    stamp = moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return f"{part_id}|{lot_id or ''}|{serial or ''}|{stamp}"
