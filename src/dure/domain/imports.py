"""Import batches: one imported file and what became of its rows."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from dure.domain.ids import new_id, utcnow


@dataclass(kw_only=True)
class ImportBatch:
    """One file brought in by batch ingest, with its row counts and first errors."""

    org_id: str
    kind: str
    filename: str
    sha256: str
    rows_total: int
    rows_accepted: int
    rows_rejected: int
    errors: list[dict[str, Any]] = field(default_factory=list)
    id: str = field(default_factory=new_id)
    created_at: datetime = field(default_factory=utcnow)
