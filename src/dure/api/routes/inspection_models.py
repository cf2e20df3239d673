"""Inspection models of a part: create, train (background job), inspect images, and jobs."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, File, Form, Header, Response, UploadFile
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from dure.api.deps import (
    CallerDep,
    InspectorsDep,
    JobsDep,
    PageDep,
    SessionDep,
    SettingsDep,
    StoreDep,
)
from dure.api.schemas import InspectionModelIn, InspectionOut
from dure.api.uploads import read_upload
from dure.domain.jobs import Job
from dure.domain.model_versions import ModelVersion
from dure.domain.pages import Listing
from dure.domain.parts import LabelledImage
from dure.services.imports.images import ImageImportResult, add_labelled_images
from dure.services.inspection.batches import MAX_BATCH, MAX_KEY_CHARS, queue_batch
from dure.services.inspection.inspect import inspect_image
from dure.services.inspection.records import ImageLimits, Placement
from dure.services.inspection.rescoring import queue_rescore
from dure.services.inspection.retraining import MAX_MODELS, queue_retraining
from dure.services.inspection.teaching import (
    TASK,
    TrainingSettings,
    create_inspection_model,
    queue_training,
)
from dure.services.inspection.teaching_images import label_inspections

router = APIRouter(tags=["inspection models"])


@router.post("/api/parts/{part_id}/images", status_code=201)
async def upload_part_images(
    part_id: str,
    session: SessionDep,
    settings: SettingsDep,
    images: Annotated[
        list[UploadFile],
        File(description="PNG, JPEG, BMP or TIFF files", min_length=1, max_length=MAX_BATCH),
    ],
    label: Annotated[str, Form(description="good, or a defect type code")] = "good",
    split: Annotated[str, Form(pattern="^(train|test)$")] = "train",
) -> ImageImportResult:
    """Add labelled images of a part to teach from (all checked before any is stored)."""
    files = [
        (f.filename, await read_upload(f, settings.max_upload_bytes, "images")) for f in images
    ]
    return add_labelled_images(
        session,
        part_id,
        files,
        label,
        split,
        max_bytes=settings.max_upload_bytes,
        max_pixels=settings.max_image_pixels,
    )


class PickIn(BaseModel):
    inspection_ids: list[str] = Field(
        min_length=1, max_length=MAX_BATCH, description="your inspections of this part"
    )
    label: str = Field("good", description="good, or a defect type code")
    split: str = Field("train", pattern="^(train|test)$")


@router.post("/api/parts/{part_id}/images/from-inspections", status_code=201)
def pick_part_images(part_id: str, body: PickIn, session: SessionDep) -> list[LabelledImage]:
    """Teach from parts already inspected: their images become labelled images of the part."""
    return label_inspections(session, part_id, body.inspection_ids, body.label, body.split)


@router.post("/api/inspection-models", status_code=201)
def create_model(body: InspectionModelIn, session: SessionDep) -> ModelVersion:
    """A new draft inspection model for one of your parts; train it next."""
    settings = TrainingSettings(
        image_size=body.image_size,
        coreset_ratio=body.coreset_ratio,
        false_alarm_rate=body.false_alarm_rate,
        tile=body.tile,
    )
    return create_inspection_model(session, body.part_id, body.name, settings)


@router.get("/api/inspection-models")
def list_models(
    session: SessionDep, page: PageDep, part_id: str | None = None, status: str | None = None
) -> Listing[ModelVersion]:
    """Inspection models you own or may use by grant, newest first."""
    return session.model_versions.list(page, task=TASK, part_id=part_id, status=status)


@router.get("/api/inspection-models/{model_id}")
def get_model(model_id: str, session: SessionDep) -> ModelVersion:
    """One inspection model with its card (threshold and its evidence, defect types)."""
    return session.model_versions.get(model_id)


@router.post("/api/inspection-models/{model_id}/train", status_code=202)
def train_model(model_id: str, session: SessionDep, jobs: JobsDep, after: BackgroundTasks) -> Job:
    """Queue training; follow it at /api/jobs/{job_id}."""
    job = queue_training(session, model_id)
    after.add_task(jobs.wake)  # after the commit; the runner also polls
    return job


class RetrainIn(BaseModel):
    model_ids: list[str] = Field(
        min_length=1, max_length=MAX_MODELS, description="your draft (or failed) models"
    )


@router.post("/api/inspection-models/retrain", status_code=202)
def retrain_models(
    body: RetrainIn, session: SessionDep, jobs: JobsDep, after: BackgroundTasks
) -> Job:
    """Queue one job teaching several models (on Ray, when configured, all at once); its
    result lists the trained and the failed ones."""
    job = queue_retraining(session, body.model_ids)
    after.add_task(jobs.wake)
    return job


class RescoreIn(BaseModel):
    part_id: str | None = Field(None, description="needed for a shared model")
    since: datetime | None = Field(None, description="records taken at or after (ISO 8601)")
    until: datetime | None = Field(None, description="records taken before (ISO 8601)")


@router.post("/api/inspection-models/{model_id}/rescore", status_code=202)
def rescore_history(
    model_id: str, body: RescoreIn, session: SessionDep, jobs: JobsDep, after: BackgroundTasks
) -> Job:
    """Queue re-inspecting the part's stored history with this model (read-only): the job's
    result counts verdicts that would change (ok_to_ng, ng_to_ok) and lists the first ones."""
    job = queue_rescore(session, model_id, body.part_id, body.since, body.until)
    after.add_task(jobs.wake)
    return job


@router.post("/api/inspection-models/{model_id}/inspect", status_code=201)
async def inspect_one(
    model_id: str,
    store: StoreDep,
    caller: CallerDep,
    inspectors: InspectorsDep,
    settings: SettingsDep,
    image: Annotated[UploadFile, File(description="PNG, JPEG, BMP or TIFF")],
    part_id: Annotated[str | None, Form(description="needed for a shared model")] = None,
    lot_id: Annotated[str | None, Form()] = None,
    station_id: Annotated[str | None, Form()] = None,
    serial: Annotated[str | None, Form(max_length=100)] = None,
    taken_at: Annotated[datetime | None, Form()] = None,
) -> InspectionOut:
    """Inspect one image now: verdict, score, defect type and heat-map, stored as a record."""
    data = await read_upload(image, settings.max_upload_bytes, "image")
    # Scoring takes tens of milliseconds of CPU: off the event loop.
    outcome = await run_in_threadpool(
        inspect_image,
        store,
        inspectors,
        caller,
        model_id,
        data,
        image.filename,
        ImageLimits(settings.max_upload_bytes, settings.max_image_pixels),
        Placement(part_id, lot_id, station_id, taken_at),
        serial,
    )
    record = outcome.record
    return InspectionOut(
        record=record,
        verdict=str(record.verdict),
        score=float(record.score or 0.0),
        threshold=outcome.threshold,
        defect_type=record.defect_type,
        type_confidence=outcome.type_confidence,
        heatmap_url=f"/api/blobs/{record.heatmap_sha256}",
        image_url=f"/api/blobs/{record.image_sha256}",
    )


@router.post(
    "/api/inspection-models/{model_id}/inspect-batch",
    status_code=202,
    responses={200: {"description": "sent before: the first send's job", "model": Job}},
)
async def inspect_batch(
    model_id: str,
    session: SessionDep,
    settings: SettingsDep,
    jobs: JobsDep,
    after: BackgroundTasks,
    response: Response,
    images: Annotated[
        list[UploadFile],
        File(description="PNG, JPEG, BMP or TIFF files", min_length=1, max_length=MAX_BATCH),
    ],
    part_id: Annotated[str | None, Form(description="needed for a shared model")] = None,
    lot_id: Annotated[str | None, Form()] = None,
    station_id: Annotated[str | None, Form()] = None,
    taken_at: Annotated[datetime | None, Form()] = None,
    idempotency_key: Annotated[
        str | None,
        Header(
            min_length=1,
            max_length=MAX_KEY_CHARS,
            description="your key for this batch; without one, a key is made from the "
            "model, placement and images, so the same batch sent twice is inspected once",
        ),
    ] = None,
) -> Job:
    """Queue a batch of images for inspection; the job's result lists the records.

    Sending the same batch again (same key) adds nothing: the first job is answered
    (200), or queued again to go on where it stopped if it failed (202)."""
    files = [
        (f.filename, await read_upload(f, settings.max_upload_bytes, "images")) for f in images
    ]
    queued = await run_in_threadpool(
        queue_batch,
        session,
        model_id,
        files,
        ImageLimits(settings.max_upload_bytes, settings.max_image_pixels),
        Placement(part_id, lot_id, station_id, taken_at),
        idempotency_key,
    )
    if queued.replayed:
        response.status_code = 200
    else:
        after.add_task(jobs.wake)
    return queued.job


@router.get("/api/jobs")
def list_jobs(
    session: SessionDep, page: PageDep, status: str | None = None, kind: str | None = None
) -> Listing[Job]:
    """Your organisation's background jobs, newest first."""
    return session.jobs.list(page, status=status, kind=kind)


@router.get("/api/jobs/{job_id}")
def get_job(job_id: str, session: SessionDep) -> Job:
    """One job: status, progress (0 to 1), current step, result or error."""
    return session.jobs.get(job_id)
