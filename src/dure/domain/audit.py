"""Audit events: who did what to which record, kept for every write and cross-company read."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from dure.domain.ids import new_id, utcnow


@dataclass(kw_only=True)
class AuditEvent:
    """One entry of the append-only audit log, visible to the organisation it concerns."""

    org_id: str
    action: str
    resource: str
    resource_id: str | None = None
    actor_org_id: str | None = None
    actor_user_id: str | None = None
    grant_id: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)
    id: str = field(default_factory=new_id)
    at: datetime = field(default_factory=utcnow)
