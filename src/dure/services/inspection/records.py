"""Inspection records: where a part image was taken, and what the model said about it.

``new_record`` is the one place a record is built, with or without a verdict; every path
(an upload to be scored later, one image inspected now, a batch) writes it once, after
the image and its placement were checked.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from dure.domain.model_versions import ModelVersion
from dure.domain.records import InspectionRecord, Verdict
from dure.domain.users import Caller
from dure.ingest.images import check_image, safe_filename
from dure.models.vision.inspector import Finding
from dure.store.session import Session


@dataclass(frozen=True)
class ImageLimits:
    """What an uploaded image may weigh and measure."""

    max_bytes: int
    max_pixels: int


@dataclass(frozen=True)
class Placement:
    """Where and when inspected parts were made (all optional but the part)."""

    part_id: str | None = None
    lot_id: str | None = None
    station_id: str | None = None
    taken_at: datetime | None = None


def store_blob(session: Session, data: bytes, media_type: str, filename: str) -> str:
    """Put bytes in the blob store and record that the caller's organisation holds them."""
    sha = session.blob_store.put(data)
    session.blob_index.register(sha, len(data), media_type, filename)
    return sha


def check_placement(session: Session, part_id: str, placement: Placement) -> None:
    """Raise unless the caller may write inspections and owns the part, lot and station."""
    session.inspections.check_placement(part_id, placement.lot_id, placement.station_id)


def new_record(
    caller: Caller,
    *,
    part_id: str,
    image_sha256: str,
    placement: Placement,
    serial: str | None,
    model: ModelVersion | None = None,
    finding: Finding | None = None,
) -> InspectionRecord:
    """The record of one part image; with a model's finding it carries the verdict, score
    and defect type (the heat-map is attached by ``save_inspected``)."""
    record = InspectionRecord(
        org_id=caller.org_id,
        part_id=part_id,
        image_sha256=image_sha256,
        lot_id=placement.lot_id,
        station_id=placement.station_id,
        serial=serial,
    )
    if placement.taken_at is not None:
        record.taken_at = placement.taken_at
    if finding is not None and model is not None:
        record.score = finding.score
        record.verdict = Verdict.NG if finding.is_defect else Verdict.OK
        record.defect_type = finding.defect_type
        record.model_version_id = model.id
        record.regions = [
            {**region.as_dict(), "defect_type": finding.defect_type} for region in finding.regions
        ]
    return record


def save_inspected(
    session: Session,
    model: ModelVersion,
    finding: Finding,
    heatmap_png: bytes,
    *,
    part_id: str,
    image_sha256: str,
    placement: Placement,
    serial: str | None,
    source_key: str | None = None,
) -> InspectionRecord:
    """Store the heat-map and the inspected record with its verdict: one insert."""
    record = new_record(
        session.caller,
        part_id=part_id,
        image_sha256=image_sha256,
        placement=placement,
        serial=serial,
        model=model,
        finding=finding,
    )
    record.source_key = source_key
    record.heatmap_sha256 = store_blob(
        session, heatmap_png, "image/png", f"heatmap-{record.id}.png"
    )
    return session.inspections.add(record)


def record_inspection(
    session: Session,
    data: bytes,
    filename: str | None,
    limits: ImageLimits,
    *,
    part_id: str,
    lot_id: str | None = None,
    station_id: str | None = None,
    serial: str | None = None,
    taken_at: datetime | None = None,
) -> InspectionRecord:
    """Check an image and store it as a new inspection record of one of the caller's parts
    (to be scored later).

    Everything is checked before the image is written, so a refused upload leaves
    neither a record nor a file behind.
    """
    name = safe_filename(filename)
    image = check_image(data, name, max_bytes=limits.max_bytes, max_pixels=limits.max_pixels)
    placement = Placement(part_id, lot_id, station_id, taken_at)
    check_placement(session, part_id, placement)
    sha = store_blob(session, data, image.media_type, name)
    record = new_record(
        session.caller, part_id=part_id, image_sha256=sha, placement=placement, serial=serial
    )
    return session.inspections.add(record)
