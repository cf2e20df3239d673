"""Versions of trained models, with their card and lineage."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from dure.domain.ids import new_id, utcnow


@dataclass(kw_only=True)
class ModelVersion:
    """A trained model of one organisation for one part, stored as a blob."""

    org_id: str
    name: str
    version: int
    task: str
    part_id: str | None = None
    blob_sha256: str | None = None
    card: dict[str, Any] = field(default_factory=dict)
    base_version_id: str | None = None
    status: str = "draft"
    id: str = field(default_factory=new_id)
    created_at: datetime = field(default_factory=utcnow)
