"""What was done to a machine: failures, repairs and replacements, each at its time.

A failure ends a run of the machine; a repair or a replacement starts a new one. Runs that
end in a failure are the run-to-failure histories a remaining-useful-life model learns
from (``services.maintenance.run_to_failure``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from dure.domain.ids import new_id, utcnow

MAX_NOTE = 2000


class MaintenanceKind(StrEnum):
    """What happened to the machine."""

    FAILURE = "failure"  # it broke down: the run before this ends here
    REPAIR = "repair"  # it was repaired: a new run starts
    REPLACEMENT = "replacement"  # the worn part (or the machine) was replaced: a new run


@dataclass(kw_only=True)
class MaintenanceEvent:
    """One failure, repair or replacement of an asset, at the time it happened."""

    org_id: str
    asset_id: str
    kind: MaintenanceKind
    occurred_at: datetime
    note: str = ""
    created_by: str | None = None
    id: str = field(default_factory=new_id)
    created_at: datetime = field(default_factory=utcnow)
