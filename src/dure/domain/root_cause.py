"""Root-cause requests between companies: an OEM asks a supplier why named lots or serials
were bad, and the supplier answers with aggregates computed at home."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from dure.domain.ids import new_id, utcnow

MIN_GROUP = 5  # the smallest group of parts an answer may describe (k); a setting may raise it


class RootCauseSide(StrEnum):
    """Which side of a request a row is kept by."""

    ASKED = "asked"  # the OEM's copy: what it asked, and the answer it got
    ANSWERING = "answering"  # the supplier's copy: what it was asked, and what it sent


class RootCauseStatus(StrEnum):
    """Where a request stands."""

    WAITING = "waiting"  # the OEM waits for an answer (the supplier reviews it)
    PENDING_REVIEW = "pending_review"  # the supplier's admin has not approved the answer yet
    ANSWERED = "answered"
    DECLINED = "declined"  # the supplier's admin declined to answer
    REFUSED = "refused"  # no grant in force, or a group smaller than k


class FoundAt(StrEnum):
    """Where the OEM found the defect it asks about."""

    INCOMING = "incoming"
    ASSEMBLY = "assembly"
    FIELD = "field"


@dataclass(kw_only=True)
class RootCauseRequest:
    """One side's record of a root-cause request (lots by the supplier's codes)."""

    org_id: str
    request_id: str
    side: RootCauseSide
    partner_org_id: str
    lots: list[str]
    serials: list[str]
    status: RootCauseStatus
    defect_type: str | None = None
    found_at: FoundAt | None = None
    note: str = ""
    # the answer exactly as it crossed between the companies (JSON text)
    answer_text: str | None = None
    reason: str | None = None
    grant_id: str | None = None
    decided_by: str | None = None
    answered_at: datetime | None = None
    id: str = field(default_factory=new_id)
    created_at: datetime = field(default_factory=utcnow)
