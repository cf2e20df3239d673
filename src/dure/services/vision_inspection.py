"""Inspecting part images with a trained model: one at once, or a batch in the background."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from dure.domain.jobs import Job, JobKind
from dure.domain.model_versions import ModelVersion
from dure.domain.records import InspectionRecord, Verdict
from dure.domain.users import Caller
from dure.errors import Conflict, InvalidInput
from dure.ingest.images import check_image, safe_filename
from dure.models.vision.heatmaps import overlay_png
from dure.models.vision.inspector import Finding
from dure.services.inspection_models import TASK, decode_bytes
from dure.services.inspections import (
    ImageLimits,
    check_placement,
    record_inspection,
    store_blob,
)
from dure.services.model_files import InspectorCache
from dure.store.session import Session, Store

MAX_BATCH = 500
BATCH_CHUNK = 16


@dataclass(frozen=True)
class Placement:
    """Where and when inspected parts were made (all optional but the part)."""

    part_id: str | None = None
    lot_id: str | None = None
    station_id: str | None = None
    taken_at: datetime | None = None


@dataclass(frozen=True)
class InspectionOutcome:
    """The stored record of one inspected image and what the model said about it."""

    record: InspectionRecord
    threshold: float
    type_confidence: float | None


def usable_model(session: Session, model_id: str) -> ModelVersion:
    """A ready inspection model the caller owns or may use by grant."""
    model = session.model_versions.get(model_id)
    if model.task != TASK:
        raise InvalidInput("model_id", f"model {model_id} is a {model.task} model, not {TASK}")
    if model.status != "ready" or not model.blob_sha256:
        raise Conflict(f"model {model_id} is {model.status}, not ready: train it first")
    return model


def chosen_threshold(model: ModelVersion) -> float | None:
    """The threshold on the model's card (a person may have chosen it), else the model's own."""
    value = (model.card.get("threshold") or {}).get("value")
    return float(value) if isinstance(value, int | float) else None


def _part_for(session: Session, model: ModelVersion, placement: Placement) -> str:
    if placement.part_id:
        return placement.part_id
    if model.org_id == session.caller.org_id and model.part_id:
        return model.part_id
    raise InvalidInput("part_id", "name your part: this model is shared with you by its owner")


def _apply(
    session: Session, record: InspectionRecord, model: ModelVersion, finding: Finding, image: Any
) -> InspectionRecord:
    heat_sha = store_blob(
        session, overlay_png(image, finding.heatmap), "image/png", f"heatmap-{record.id}.png"
    )
    return session.inspections.update_fields(
        record.id,
        score=finding.score,
        verdict=Verdict.NG if finding.is_defect else Verdict.OK,
        defect_type=finding.defect_type,
        model_version_id=model.id,
        heatmap_sha256=heat_sha,
    )


def inspect_image(
    session: Session,
    cache: InspectorCache,
    model_id: str,
    data: bytes,
    filename: str | None,
    limits: ImageLimits,
    placement: Placement,
    serial: str | None = None,
) -> InspectionOutcome:
    """Check, store and inspect one image; the record carries verdict, score, type, heat-map.

    A refused image (damaged, unlike the taught ones) leaves no record behind: the whole
    call is one transaction.
    """
    model = usable_model(session, model_id)
    name = safe_filename(filename)
    info = check_image(data, name, max_bytes=limits.max_bytes, max_pixels=limits.max_pixels)
    image = decode_bytes(data, name)
    inspector = cache.get(model.blob_sha256 or "")
    finding = inspector.inspect([image], [name], chosen_threshold(model))[0]
    record = record_inspection(
        session,
        data,
        name,
        limits,
        part_id=_part_for(session, model, placement),
        lot_id=placement.lot_id,
        station_id=placement.station_id,
        serial=serial,
        taken_at=placement.taken_at,
        checked=info,
    )
    record = _apply(session, record, model, finding, image)
    return InspectionOutcome(record, finding.threshold, finding.type_confidence)


def queue_batch(
    session: Session,
    model_id: str,
    files: list[tuple[str | None, bytes]],
    limits: ImageLimits,
    placement: Placement,
) -> Job:
    """Check every image, store them, and queue a job that inspects them all.

    If any image is refused nothing is stored and no job is queued.
    """
    model = usable_model(session, model_id)
    if not files:
        raise InvalidInput("images", "the batch holds no images")
    if len(files) > MAX_BATCH:
        raise InvalidInput("images", f"{len(files)} images; send at most {MAX_BATCH} per batch")
    part_id = _part_for(session, model, placement)
    check_placement(session, part_id, placement.lot_id, placement.station_id)
    checked = []
    for filename, data in files:
        name = safe_filename(filename)
        info = check_image(data, name, max_bytes=limits.max_bytes, max_pixels=limits.max_pixels)
        checked.append((name, data, info.media_type))
    stored = [
        {"filename": name, "sha256": store_blob(session, data, media, name)}
        for name, data, media in checked
    ]
    return session.jobs.add(
        Job(
            org_id=session.caller.org_id,
            kind=JobKind.INSPECT_BATCH,
            subject_id=model.id,
            created_by=session.caller.user_id,
            params={
                "images": stored,
                "part_id": part_id,
                "lot_id": placement.lot_id,
                "station_id": placement.station_id,
                "taken_at": placement.taken_at.isoformat() if placement.taken_at else None,
            },
        )
    )


def run_batch(store: Store, caller: Caller, job: Job, cache: InspectorCache) -> dict[str, Any]:
    """Inspect a queued batch in chunks; each chunk's records are committed together.

    An image the model refuses (e.g. colour for a grey model) is reported in the result
    and does not stop the others.
    """
    images = job.params["images"]
    taken_at = job.params.get("taken_at")
    counts = {"ok": 0, "ng": 0, "refused": 0}
    ids: list[str] = []
    refused: list[dict[str, str]] = []
    for start in range(0, len(images), BATCH_CHUNK):
        with store.session(caller) as s:
            model = usable_model(s, job.subject_id)
            inspector = cache.get(model.blob_sha256 or "")
            for item in images[start : start + BATCH_CHUNK]:
                data = store.blobs.get(item["sha256"])
                try:
                    image = decode_bytes(data, item["filename"])
                    finding = inspector.inspect(
                        [image], [item["filename"]], chosen_threshold(model)
                    )[0]
                except InvalidInput as exc:
                    counts["refused"] += 1
                    refused.append({"filename": item["filename"], "reason": exc.detail})
                    continue
                record = s.inspections.add(
                    InspectionRecord(
                        org_id=caller.org_id,
                        part_id=job.params["part_id"],
                        image_sha256=item["sha256"],
                        lot_id=job.params.get("lot_id"),
                        station_id=job.params.get("station_id"),
                        serial=item["filename"],
                        **({"taken_at": datetime.fromisoformat(taken_at)} if taken_at else {}),
                    )
                )
                record = _apply(s, record, model, finding, image)
                counts[record.verdict.value if record.verdict else "ok"] += 1
                ids.append(record.id)
            done = min(start + BATCH_CHUNK, len(images))
            s.jobs.report(job.id, done / len(images), f"inspected {done} of {len(images)}")
    return {**counts, "inspection_ids": ids, "refused_images": refused}
