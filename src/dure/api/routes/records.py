"""Inspection records (with image upload and review), process records and blobs."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Query, Response, UploadFile

from dure.api.deps import PageDep, SessionDep, SettingsDep
from dure.api.schemas import ProcessRecordIn, ReviewIn
from dure.api.uploads import read_upload
from dure.domain.pages import Listing
from dure.domain.records import InspectionRecord, ProcessRecord, ReviewDecision
from dure.errors import InvalidInput
from dure.ingest.images import FORMATS
from dure.services.inspection import reviews
from dure.services.inspection.records import ImageLimits, record_inspection
from dure.services.platform.model_files import MEDIA_TYPE as MODEL_FILE_MEDIA_TYPE

router = APIRouter(tags=["records"])


@router.get("/api/inspections")
def list_inspections(
    session: SessionDep,
    page: PageDep,
    part_id: str | None = None,
    lot_id: str | None = None,
    verdict: str | None = None,
    org_id: str | None = None,
) -> Listing[InspectionRecord]:
    """Inspection records, newest first: yours, and those shared with you by grant."""
    return session.inspections.list(
        page, part_id=part_id, lot_id=lot_id, verdict=verdict, org_id=org_id
    )


@router.post("/api/inspections", status_code=201)
async def add_inspection(
    session: SessionDep,
    settings: SettingsDep,
    image: Annotated[UploadFile, File(description="PNG, JPEG, BMP or TIFF")],
    part_id: Annotated[str, Form()],
    lot_id: Annotated[str | None, Form()] = None,
    station_id: Annotated[str | None, Form()] = None,
    serial: Annotated[str | None, Form(max_length=100)] = None,
    taken_at: Annotated[datetime | None, Form()] = None,
) -> InspectionRecord:
    """Upload a part image as an inspection record (scored later by an inspection model)."""
    data = await read_upload(image, settings.max_upload_bytes, "image")
    limits = ImageLimits(settings.max_upload_bytes, settings.max_image_pixels)
    return record_inspection(
        session,
        data,
        image.filename,
        limits,
        part_id=part_id,
        lot_id=lot_id,
        station_id=station_id,
        serial=serial,
        taken_at=taken_at,
    )


@router.get("/api/inspections/{inspection_id}")
def get_inspection(inspection_id: str, session: SessionDep) -> InspectionRecord:
    """One inspection record (yours, or shared with you by grant)."""
    return session.inspections.get(inspection_id)


@router.post("/api/inspections/{inspection_id}/review")
def review_inspection(inspection_id: str, body: ReviewIn, session: SessionDep) -> InspectionRecord:
    """Accept, reject or relabel a flagged part; the image becomes training data of its part."""
    return reviews.review_inspection(
        session, inspection_id, ReviewDecision(body.decision), body.defect_type
    )


@router.get("/api/review-queue")
def review_queue(
    session: SessionDep,
    line_id: str | None = None,
    limit: Annotated[int, Query(ge=1, le=reviews.MAX_QUEUE)] = 50,
) -> dict[str, Any]:
    """Flagged parts nobody has reviewed yet, oldest first, with how many are waiting."""
    return reviews.review_queue(session, line_id, limit)


@router.get("/api/process-records")
def list_process_records(
    session: SessionDep,
    page: PageDep,
    part_id: str | None = None,
    lot_id: str | None = None,
) -> Listing[ProcessRecord]:
    """Process records, newest first: yours, and those shared with you by grant."""
    return session.process_records.list(page, part_id=part_id, lot_id=lot_id)


@router.post("/api/process-records", status_code=201)
def add_process_record(body: ProcessRecordIn, session: SessionDep) -> ProcessRecord:
    """Store one process record; the same part, lot, serial and time twice is a conflict."""
    for key, value in body.values.items():
        if value != value or value in (float("inf"), float("-inf")):
            raise InvalidInput(f"values.{key}", f"{value} is not a finite number")
    return session.process_records.add(
        ProcessRecord(org_id=session.caller.org_id, **body.model_dump())
    )


@router.get("/api/process-records/{record_id}")
def get_process_record(record_id: str, session: SessionDep) -> ProcessRecord:
    """One process record (yours, or shared with you by grant)."""
    return session.process_records.get(record_id)


BLOB_MEDIA_TYPES = (*FORMATS.values(), MODEL_FILE_MEDIA_TYPE)


@router.get(
    "/api/blobs/{sha256}",
    response_class=Response,
    responses={
        200: {
            "description": "the bytes, as the media type they were stored with",
            "content": {m: {"schema": {"type": "string"}} for m in BLOB_MEDIA_TYPES},
        }
    },
)
def get_blob(sha256: str, session: SessionDep) -> Response:
    """The bytes of an image or file you uploaded, or of a shared record's image."""
    media_type = session.blob_index.media_type(sha256)
    return Response(session.blob_store.get(sha256), media_type=media_type)
