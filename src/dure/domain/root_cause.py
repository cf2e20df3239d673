"""Root-cause requests between companies: an OEM asks a supplier why named lots or serials
were bad, and the supplier answers with aggregates computed at home."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from dure.domain.ids import new_id, utcnow

MIN_GROUP = 5  # the smallest group of parts an answer may describe (k); a setting may raise it
# How many requests one ROOT_CAUSE grant lets its OEM have computed per rolling window (a
# setting may change it): many answers over data that change in between could be
# differenced down to single parts, so the supplier's install rations them.
REQUESTS_PER_DAY = 20
BUDGET_WINDOW = timedelta(hours=24)
# An answer approved (or declined) after review is retried until the OEM has it: the
# first retry a minute after a failed attempt, doubling to an hour.
DELIVERY_FIRST_RETRY = timedelta(minutes=1)
DELIVERY_MAX_RETRY = timedelta(hours=1)


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


class DeliveryState(StrEnum):
    """Where an answer sent after review stands on its way to the OEM."""

    PENDING = "pending"  # decided here, not yet taken by the OEM's install
    DELIVERED = "delivered"
    STOPPED = "stopped"  # the grant was revoked before the OEM took it: never sent


def retry_delay(attempts: int) -> timedelta:
    """How long to wait after the ``attempts``-th failed delivery (1 min doubling to 1 h)."""
    delay = DELIVERY_FIRST_RETRY * (2 ** max(0, min(attempts - 1, 10)))
    return min(delay, DELIVERY_MAX_RETRY)


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
    # the supplier's side: the answer was computed here (it counts against the grant's
    # budget); a repeat answered from an earlier row's kept answer names that row instead
    budget_spent: bool = False
    repeat_of: str | None = None
    # the supplier's side of an answer sent after review: its delivery to the OEM
    delivery: DeliveryState | None = None
    delivery_attempts: int = 0
    delivery_next_at: datetime | None = None
    delivery_error: str | None = None
    delivery_failing_since: datetime | None = None
    delivered_at: datetime | None = None
    id: str = field(default_factory=new_id)
    created_at: datetime = field(default_factory=utcnow)
