"""Share grants: the only way data crosses from one organisation to another."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum

from dure.domain.ids import new_id, utcnow


class GrantScope(StrEnum):
    """What a grant lets the grantee read from the grantor."""

    INSPECTION_RECORDS = "inspection_records"
    PROCESS_RECORDS = "process_records"
    SENSOR_READINGS = "sensor_readings"
    KPI_REPORTS = "kpi_reports"
    MODEL_USE = "model_use"
    # a supplier lets an OEM ask it to train in federated rounds (model updates only)
    MODEL_UPDATES = "model_updates"
    # a supplier lets an OEM ask why named lots or serials were bad (aggregates only)
    ROOT_CAUSE = "root_cause"


@dataclass(kw_only=True)
class ShareGrant:
    """Grantor lets grantee read ``scope`` data, optionally for one part only."""

    grantor_org_id: str
    grantee_org_id: str
    scope: GrantScope
    created_by: str | None
    part_id: str | None = None
    expires_at: datetime | None = None
    revoked_at: datetime | None = None
    note: str = ""
    part_number: str | None = None
    # root_cause grants: an admin approves each answer before it leaves (else answered at once)
    review_before_send: bool = False
    id: str = field(default_factory=new_id)
    created_at: datetime = field(default_factory=utcnow)

    def active(self, now: datetime) -> bool:
        """True while neither revoked nor expired."""
        if self.revoked_at is not None:
            return False
        return self.expires_at is None or _aware(self.expires_at) > now

    def covers(self, part_id: str | None) -> bool:
        """True when this grant applies to records of ``part_id``."""
        return self.part_id is None or self.part_id == part_id


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
