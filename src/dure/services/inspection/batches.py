"""Batches of part images inspected in the background: sent once, made once, resumable.

A batch is checked whole when it is sent (one bad image refuses it and nothing is kept),
then inspected by a job in chunks: each chunk is scored outside any transaction and its
records are written together, each with the source key ``<job id>:<image index>``.
A large batch may be computed on Ray instead (``dure.scale``, when ``DURE_RAY_ADDRESS`` is
set): the job thread reads the images, Ray's workers only compute, and the job thread
writes the results as they stream back, each key once.

Sending is idempotent: the batch carries a key (the caller's ``Idempotency-Key`` or, when
there is none, one derived from the model, the placement and every image's name and
content), and sending the same key again returns the first job instead of a second one
(a failed one is queued again). A job that stops halfway (a stopped server, a failure)
goes on where it stopped: images whose record exists are not inspected again.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from dure.domain.jobs import Job, JobKind, JobStatus
from dure.domain.model_versions import ModelVersion
from dure.domain.records import InspectionRecord
from dure.domain.users import Caller
from dure.errors import Conflict, InvalidInput
from dure.ingest.images import check_image, decode_image, safe_filename
from dure.scale.batch import inspect_over_ray
from dure.scale.cluster import RayEngine
from dure.scale.compute import Computed, ImageJob
from dure.services.inspection.inspect import chosen_threshold, placed_model, run_model
from dure.services.inspection.records import ImageLimits, Placement, save_inspected, store_blob
from dure.services.platform.model_files import InspectorCache
from dure.store.session import Session, Store

MAX_BATCH = 500
BATCH_CHUNK = 16
WRITE_CHUNK = 16  # results per transaction when they stream back from Ray
LOCAL_NODE = "local"
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


@dataclass
class _Writer:
    """The driver's side of a batch: writes results in transactions of ``WRITE_CHUNK``,
    each key once (a result computed twice, or already written by an earlier run, is
    skipped), and keeps the counts of the job's result."""

    store: Store
    caller: Caller
    job: Job
    model: ModelVersion
    part_id: str
    placement: Placement
    by_key: dict[str, dict[str, str]]
    made: dict[str, InspectionRecord]
    refused: dict[str, str] = field(default_factory=dict)
    pending: list[Computed] = field(default_factory=list)
    nodes: Counter[str] = field(default_factory=Counter)

    def add(self, computed: Computed) -> None:
        """Take one image's result; written with the next full chunk."""
        if computed.key in self.made or computed.key in self.refused:
            return  # a repeated result (Ray re-ran a block): written once already
        if any(p.key == computed.key for p in self.pending):
            return
        self.pending.append(computed)
        if len(self.pending) >= WRITE_CHUNK:
            self.flush()

    def flush(self) -> None:
        """Write the pending results in one transaction, and report the progress."""
        if not self.pending:
            return
        pending, self.pending = self.pending, []
        with self.store.session(self.caller) as session:
            already = session.inspections.made_from([p.key for p in pending])
            self.made.update(already)
            for done in pending:
                self.nodes[done.node_id] += 1
                if done.key in already:
                    continue
                if done.finding is None or done.heatmap is None:
                    self.refused[done.key] = done.refused or "refused"
                    continue
                item = self.by_key[done.key]
                self.made[done.key] = save_inspected(
                    session,
                    self.model,
                    done.finding,
                    done.heatmap,
                    part_id=self.part_id,
                    image_sha256=item["sha256"],
                    placement=self.placement,
                    serial=item["filename"],
                    source_key=done.key,
                )
            total = len(self.by_key)
            finished = len(self.made) + len(self.refused)
            session.jobs.report(self.job.id, finished / total, f"inspected {finished} of {total}")


def _in_process(
    store: Store, caller: Caller, job: Job, cache: InspectorCache, writer: _Writer
) -> None:
    """Compute chunk by chunk in this thread, each chunk written before the next is scored
    (the keys an earlier run wrote are read again per chunk and skipped)."""
    keys = list(writer.by_key)
    for start in range(0, len(keys), BATCH_CHUNK):
        chunk = keys[start : start + BATCH_CHUNK]
        with store.session(caller, read_only=True) as session:
            writer.made.update(session.inspections.made_from(chunk))
        for key in chunk:
            if key in writer.made:
                continue
            item = writer.by_key[key]
            try:
                pixels = decode_image(store.blobs.get(item["sha256"]), item["filename"])
                finding, heatmap = run_model(cache, writer.model, pixels, item["filename"])
                computed = Computed(key, finding, heatmap, None, LOCAL_NODE)
            except InvalidInput as exc:
                computed = Computed(key, None, None, exc.detail, LOCAL_NODE)
            writer.add(computed)
        writer.flush()


def _over_ray(store: Store, engine: RayEngine, writer: _Writer) -> None:
    """Read the images (the driver), compute on Ray's workers, write as results stream in."""
    todo = [
        ImageJob(key, item["filename"], store.blobs.get(item["sha256"]))
        for key, item in writer.by_key.items()
        if key not in writer.made
    ]
    model_tar = store.blobs.get(writer.model.blob_sha256 or "")
    for computed in inspect_over_ray(engine, model_tar, chosen_threshold(writer.model), todo):
        writer.add(computed)
    writer.flush()


def run_batch(
    store: Store,
    caller: Caller,
    job: Job,
    cache: InspectorCache,
    engine: RayEngine | None = None,
) -> dict[str, Any]:
    """Inspect a queued batch, skipping images already inspected by an earlier run of the
    same job; the result covers the whole batch.

    With a Ray ``engine`` and at least its ``min_images`` images, the images are computed on
    the cluster (the result says ``"runner": "ray"`` and how many each node did); else in
    this process. Either way only this thread writes to the store. An image the model
    refuses (e.g. colour for a grey model) is reported in the result and does not stop the
    others.
    """
    images = job.params["images"]
    placement = _placement(job.params)
    keys = [f"{job.id}:{i}" for i in range(len(images))]
    with store.session(caller, read_only=True) as session:
        model, part_id = placed_model(session, job.subject_id, placement)
        done_before = session.inspections.made_from(keys)
    writer = _Writer(
        store,
        caller,
        job,
        model,
        part_id,
        placement,
        by_key=dict(zip(keys, images, strict=True)),
        made=dict(done_before),
    )
    on_ray = engine is not None and engine.uses_ray_for(len(images))
    if on_ray:
        assert engine is not None
        _over_ray(store, engine, writer)
    else:
        _in_process(store, caller, job, cache, writer)
    counts = {"ok": 0, "ng": 0, "refused": len(writer.refused), "resumed": len(done_before)}
    ids: list[str] = []
    for key in keys:
        if key in writer.made:
            record = writer.made[key]
            counts[record.verdict.value if record.verdict else "ok"] += 1
            ids.append(record.id)
    refused = [
        {"filename": writer.by_key[key]["filename"], "reason": reason}
        for key, reason in sorted(writer.refused.items(), key=lambda kv: keys.index(kv[0]))
    ]
    result: dict[str, Any] = {**counts, "inspection_ids": ids, "refused_images": refused}
    if on_ray:
        result["runner"] = "ray"
        result["nodes"] = dict(writer.nodes)
    else:
        result["runner"] = "local"
    return result
