"""Background jobs (training a model, inspecting a batch) and how far they have got."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from dure.domain.ids import new_id, utcnow


class JobStatus(StrEnum):
    """Where a job stands; ``succeeded`` and ``failed`` are final."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class JobKind(StrEnum):
    """What a job does."""

    TRAIN_INSPECTION_MODEL = "train_inspection_model"
    INSPECT_BATCH = "inspect_batch"
    ADAPT_MODEL = "adapt_model"
    TRAIN_RUL_MODEL = "train_rul_model"
    # re-inspect a part's stored history with another model; read-only (counts in the result)
    RESCORE_HISTORY = "rescore_history"
    # teach several inspection models in one job (on Ray: one task each)
    RETRAIN_MODELS = "retrain_models"
    CHECK_PARITY = "check_parity"


# Kinds whose work is kept step by step, so a job interrupted by a stopped server is
# queued again and goes on where it stopped (the others are marked failed).
RESUMABLE_KINDS = frozenset({JobKind.INSPECT_BATCH})
# How many times a job may be started before an interruption fails it for good.
MAX_ATTEMPTS = 3


@dataclass(kw_only=True)
class Job:
    """One background job of an organisation, with its progress (0 to 1) and outcome."""

    org_id: str
    kind: JobKind
    subject_id: str
    params: dict[str, Any] = field(default_factory=dict)
    status: JobStatus = JobStatus.QUEUED
    progress: float = 0.0
    message: str = "waiting to start"
    result: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    created_by: str | None = None
    idempotency_key: str | None = None
    attempts: int = 0
    started_at: datetime | None = None
    finished_at: datetime | None = None
    id: str = field(default_factory=new_id)
    created_at: datetime = field(default_factory=utcnow)

    @property
    def done(self) -> bool:
        """True once the job has succeeded or failed."""
        return self.status in (JobStatus.SUCCEEDED, JobStatus.FAILED)
