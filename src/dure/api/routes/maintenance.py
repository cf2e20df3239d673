"""Maintenance events of a machine (failures, repairs, replacements) and the training of
a run-to-failure RUL model for its kind of machine."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, BackgroundTasks
from pydantic import Field

from dure.api.deps import JobsDep, SessionDep
from dure.api.schemas import Body, Text
from dure.domain.jobs import Job
from dure.domain.maintenance import MAX_NOTE, MaintenanceEvent
from dure.services.maintenance.events import delete_event, events_of, record_event
from dure.services.maintenance.run_to_failure import (
    DEFAULT_EPOCHS,
    DEFAULT_MEMBERS,
    MAX_EPOCHS,
    MAX_MEMBERS,
    queue_rul_training,
)

router = APIRouter(tags=["machines"])


class MaintenanceEventIn(Body):
    kind: str = Field(description="failure, repair or replacement", max_length=32)
    occurred_at: datetime = Field(
        description="when it happened (not in the future, not before the first reading)"
    )
    note: Text = Field("", max_length=MAX_NOTE, description="what was found or done")


class RulTrainingIn(Body):
    epochs: int = Field(DEFAULT_EPOCHS, ge=1, le=MAX_EPOCHS, description="training passes")
    members: int = Field(
        DEFAULT_MEMBERS, ge=1, le=MAX_MEMBERS, description="networks averaged (and calibrated)"
    )


@router.post("/api/assets/{asset_id}/maintenance-events", status_code=201)
def add_event(asset_id: str, body: MaintenanceEventIn, session: SessionDep) -> MaintenanceEvent:
    """Record a failure, repair or replacement of one of your machines (operators and
    up). A failure ends a run-to-failure history; a repair or replacement starts a run."""
    return record_event(session, asset_id, body.kind, body.occurred_at, body.note)


@router.get("/api/assets/{asset_id}/maintenance-events")
def list_events(asset_id: str, session: SessionDep) -> list[MaintenanceEvent]:
    """The machine's maintenance events, newest first."""
    return events_of(session, asset_id)


@router.delete("/api/assets/{asset_id}/maintenance-events/{event_id}")
def remove_event(asset_id: str, event_id: str, session: SessionDep) -> MaintenanceEvent:
    """Delete an event entered by mistake (audited); answers the deleted event."""
    return delete_event(session, asset_id, event_id)


@router.post("/api/assets/{asset_id}/rul-model", status_code=202)
def train_rul_model(
    asset_id: str,
    session: SessionDep,
    jobs: JobsDep,
    after: BackgroundTasks,
    body: RulTrainingIn | None = None,
) -> Job:
    """Queue the training of a run-to-failure RUL model for this machine's kind, from the
    failed runs of all your machines of that kind (409 with fewer than 2). Follow it at
    /api/jobs/{job_id}; its result names the model, which the machine's health then uses."""
    settings = body or RulTrainingIn()
    job = queue_rul_training(session, asset_id, settings.epochs, settings.members)
    after.add_task(jobs.wake)  # after the commit; the runner also polls
    return job
