"""What the plant produces as data: inspections, process records, sensor readings."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from dure.domain.ids import new_id, utcnow


class Verdict(StrEnum):
    """The inspector's (model's) call on a part."""

    OK = "ok"
    NG = "ng"
    UNSURE = "unsure"


class ReviewDecision(StrEnum):
    """A person's decision on a flagged part."""

    ACCEPT = "accept"
    REJECT = "reject"
    RELABEL = "relabel"


def is_defective(verdict: str | None, review: str | None) -> bool:
    """Whether a part counts as defective: a person's review overrules the model's verdict."""
    if review:
        return review in (ReviewDecision.REJECT, ReviewDecision.RELABEL)
    return verdict == Verdict.NG


@dataclass(kw_only=True)
class InspectionRecord:
    """One inspected part image with its score, verdict and review."""

    org_id: str
    part_id: str
    image_sha256: str
    lot_id: str | None = None
    station_id: str | None = None
    serial: str | None = None
    score: float | None = None
    verdict: Verdict | None = None
    defect_type: str | None = None
    model_version_id: str | None = None
    heatmap_sha256: str | None = None
    regions: list[dict[str, Any]] = field(default_factory=list)
    review_decision: ReviewDecision | None = None
    reviewed_by: str | None = None
    reviewed_at: datetime | None = None
    taken_at: datetime = field(default_factory=utcnow)
    # what made the record when it must be made once ("<job id>:<image index>" in a batch)
    source_key: str | None = None
    id: str = field(default_factory=new_id)
    created_at: datetime = field(default_factory=utcnow)


@dataclass(kw_only=True)
class ProcessRecord:
    """Named numeric process parameters (with units) for one part or one lot."""

    org_id: str
    part_id: str
    recorded_at: datetime
    values: dict[str, float]
    units: dict[str, str] = field(default_factory=dict)
    lot_id: str | None = None
    serial: str | None = None
    line_id: str | None = None
    id: str = field(default_factory=new_id)
    created_at: datetime = field(default_factory=utcnow)


@dataclass(frozen=True, slots=True)
class SensorReading:
    """One value of one sensor channel at one time (microseconds since the epoch, UTC)."""

    channel_id: str
    ts_us: int
    value: float
