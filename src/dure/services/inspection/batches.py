"""Batches of part images inspected in the background: sent once, made once, resumable.

A batch is checked whole when it is sent (one bad image refuses it and nothing is kept),
then inspected by a job in chunks: each chunk is scored outside any transaction and its
records are written together, each with the source key ``<job id>:<image index>``.

Sending is idempotent: the batch carries a key (the caller's ``Idempotency-Key`` or, when
there is none, one derived from the model, the placement and every image's name and
content), and sending the same key again returns the first job instead of a second one
(a failed one is queued again). A job that stops halfway (a stopped server, a failure)
goes on where it stopped: images whose record exists are not inspected again.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from dure.domain.jobs import Job, JobKind, JobStatus
from dure.domain.users import Caller
from dure.errors import Conflict, InvalidInput
from dure.ingest.images import check_image, decode_image, safe_filename
from dure.services.inspection.inspect import placed_model, run_model
from dure.services.inspection.records import ImageLimits, Placement, save_inspected, store_blob
from dure.services.platform.model_files import InspectorCache
from dure.store.session import Session, Store

MAX_BATCH = 500
BATCH_CHUNK = 16
KEY_FIELD = "Idempotency-Key"
MAX_KEY_CHARS = 200


@dataclass(frozen=True)
class QueuedBatch:
    """The job inspecting a batch, and whether it was queued by an earlier send."""

    job: Job
    replayed: bool


def _content_digest(model_id: str, placement: Placement, images: list[dict[str, str]]) -> str:
    described = {
        "model_id": model_id,
        "part_id": placement.part_id,
        "lot_id": placement.lot_id,
        "station_id": placement.station_id,
        "taken_at": placement.taken_at.isoformat() if placement.taken_at else None,
        "images": [[i["filename"], i["sha256"]] for i in images],
    }
    return hashlib.sha256(json.dumps(described, sort_keys=True).encode()).hexdigest()


def _checked_key(key: str | None, digest: str) -> str:
    if key is None:
        return f"content:{digest}"
    if not 1 <= len(key) <= MAX_KEY_CHARS or not key.isprintable():
        raise InvalidInput(KEY_FIELD, f"1 to {MAX_KEY_CHARS} printable characters")
    return f"caller:{key}"


def queue_batch(
    session: Session,
    model_id: str,
    files: list[tuple[str | None, bytes]],
    limits: ImageLimits,
    placement: Placement,
    key: str | None = None,
) -> QueuedBatch:
    """Check every image, store them, and queue a job that inspects them all; or, when the
    batch was sent before (same key), return that job (queued again if it failed).

    If any image is refused nothing is stored and no job is queued. A caller's key reused
    for a different batch is a conflict.
    """
    if not files:
        raise InvalidInput("images", "the batch holds no images")
    if len(files) > MAX_BATCH:
        raise InvalidInput("images", f"{len(files)} images; send at most {MAX_BATCH} per batch")
    model, part_id = placed_model(session, model_id, placement)
    checked = []
    for filename, data in files:
        name = safe_filename(filename)
        image = check_image(data, name, max_bytes=limits.max_bytes, max_pixels=limits.max_pixels)
        checked.append((name, data, image.media_type, hashlib.sha256(data).hexdigest()))
    described = [{"filename": name, "sha256": sha} for name, _, _, sha in checked]
    digest = _content_digest(model.id, placement, described)
    idempotency_key = _checked_key(key, digest)
    earlier = session.jobs.with_key(idempotency_key)
    if earlier is not None:
        if earlier.params.get("content_sha256") != digest:
            raise Conflict(f"{KEY_FIELD}: already used for a different batch; use a new key")
        if earlier.status == JobStatus.FAILED:
            return QueuedBatch(session.jobs.retry(earlier.id), replayed=False)
        return QueuedBatch(earlier, replayed=True)
    stored = [
        {"filename": name, "sha256": store_blob(session, data, media, name)}
        for name, data, media, _ in checked
    ]
    job = session.jobs.add(
        Job(
            org_id=session.caller.org_id,
            kind=JobKind.INSPECT_BATCH,
            subject_id=model.id,
            created_by=session.caller.user_id,
            idempotency_key=idempotency_key,
            params={
                "images": stored,
                "content_sha256": digest,
                "part_id": part_id,
                "lot_id": placement.lot_id,
                "station_id": placement.station_id,
                "taken_at": placement.taken_at.isoformat() if placement.taken_at else None,
            },
        )
    )
    return QueuedBatch(job, replayed=False)


def _placement(params: dict[str, Any]) -> Placement:
    taken_at = params.get("taken_at")
    return Placement(
        params["part_id"],
        params.get("lot_id"),
        params.get("station_id"),
        datetime.fromisoformat(taken_at) if taken_at else None,
    )


def run_batch(store: Store, caller: Caller, job: Job, cache: InspectorCache) -> dict[str, Any]:
    """Inspect a queued batch chunk by chunk, skipping images already inspected by an
    earlier run of the same job; the result covers the whole batch.

    An image the model refuses (e.g. colour for a grey model) is reported in the result
    and does not stop the others.
    """
    images = job.params["images"]
    placement = _placement(job.params)
    counts = {"ok": 0, "ng": 0, "refused": 0, "resumed": 0}
    ids: list[str] = []
    refused: list[dict[str, str]] = []
    for start in range(0, len(images), BATCH_CHUNK):
        keys = [f"{job.id}:{i}" for i in range(start, min(start + BATCH_CHUNK, len(images)))]
        with store.session(caller, read_only=True) as session:
            model, part_id = placed_model(session, job.subject_id, placement)
            done_before = session.inspections.made_from(keys)
        inspected = []
        for key, item in zip(keys, images[start : start + BATCH_CHUNK], strict=True):
            if key in done_before:
                continue
            try:
                pixels = decode_image(store.blobs.get(item["sha256"]), item["filename"])
                inspected.append((key, item, *run_model(cache, model, pixels, item["filename"])))
            except InvalidInput as exc:
                counts["refused"] += 1
                refused.append({"filename": item["filename"], "reason": exc.detail})
        with store.session(caller) as session:
            made = dict(done_before)
            for key, item, finding, heatmap in inspected:
                made[key] = save_inspected(
                    session,
                    model,
                    finding,
                    heatmap,
                    part_id=part_id,
                    image_sha256=item["sha256"],
                    placement=placement,
                    serial=item["filename"],
                    source_key=key,
                )
            done = min(start + BATCH_CHUNK, len(images))
            session.jobs.report(job.id, done / len(images), f"inspected {done} of {len(images)}")
        counts["resumed"] += len(done_before)
        for key in keys:
            if key in made:
                record = made[key]
                counts[record.verdict.value if record.verdict else "ok"] += 1
                ids.append(record.id)
    return {**counts, "inspection_ids": ids, "refused_images": refused}
