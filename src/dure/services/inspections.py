"""Inspection use cases: taking in a part image as an inspection record."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from dure.domain.records import InspectionRecord
from dure.ingest.images import ImageInfo, check_image, safe_filename
from dure.store import tables as t
from dure.store.session import Session


@dataclass(frozen=True)
class ImageLimits:
    """What an uploaded image may weigh and measure."""

    max_bytes: int
    max_pixels: int


def store_blob(session: Session, data: bytes, media_type: str, filename: str) -> str:
    """Put bytes in the blob store and record that the caller's organisation holds them."""
    sha = session.blob_store.put(data)
    session.blob_index.register(sha, len(data), media_type, filename)
    return sha


def check_placement(
    session: Session, part_id: str, lot_id: str | None, station_id: str | None
) -> None:
    """Raise unless the caller may write inspections and owns the part, lot and station."""
    repo = session.inspections
    repo.require_write()
    repo.require_own(t.part_numbers, "part_id", part_id)
    repo.require_own(t.lots, "lot_id", lot_id)
    repo.require_own(t.stations, "station_id", station_id)


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
    checked: ImageInfo | None = None,
) -> InspectionRecord:
    """Check an image and store it as a new inspection record of one of the caller's parts.

    Everything is checked before the image is written, so a refused upload leaves
    neither a record nor a file behind; ``checked`` skips a check already made.
    """
    name = safe_filename(filename)
    info = checked or check_image(
        data, name, max_bytes=limits.max_bytes, max_pixels=limits.max_pixels
    )
    check_placement(session, part_id, lot_id, station_id)
    repo = session.inspections
    sha = store_blob(session, data, info.media_type, name)
    record = InspectionRecord(
        org_id=session.caller.org_id,
        part_id=part_id,
        image_sha256=sha,
        lot_id=lot_id,
        station_id=station_id,
        serial=serial,
    )
    if taken_at is not None:
        record.taken_at = taken_at
    return repo.add(record)
