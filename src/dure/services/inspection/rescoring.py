"""Re-scoring a part's inspection history with another model version (read-only).

After a model change, an engineer asks what the new model would have said about the parts
already inspected: a job re-inspects the stored images of the part's records in a time
window and counts how many verdicts would turn ok -> ng and ng -> ok. Nothing is written
but the job's result (no new records, so dashboards do not count an image twice). Large
histories are computed on Ray when an engine is configured (``dure.scale``), as batches are.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from dure.domain.jobs import Job, JobKind
from dure.domain.model_versions import ModelVersion
from dure.domain.records import InspectionRecord
from dure.domain.users import Caller
from dure.errors import InvalidInput
from dure.ingest.images import decode_image
from dure.scale.batch import inspect_over_ray
from dure.scale.cluster import RayEngine
from dure.scale.compute import Computed, ImageJob
from dure.services.inspection.inspect import chosen_threshold, placed_model, run_model
from dure.services.inspection.records import Placement
from dure.services.platform.model_files import InspectorCache
from dure.store.session import Session, Store

MAX_RECORDS = 20_000  # records of one re-scoring (the oldest of the window); more: truncated
CHANGED_LISTED = 100  # changed records named in the result (all are counted)
REPORT_EVERY = 32


def queue_rescore(
    session: Session,
    model_id: str,
    part_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Job:
    """Queue re-scoring the caller's records of a part (default: the model's part) taken in
    ``[since, until)`` with model ``model_id``."""
    if since is not None and until is not None and until <= since:
        raise InvalidInput("until", "must be after since")
    model, part = placed_model(session, model_id, Placement(part_id))
    return session.jobs.add(
        Job(
            org_id=session.caller.org_id,
            kind=JobKind.RESCORE_HISTORY,
            subject_id=model.id,
            created_by=session.caller.user_id,
            params={
                "part_id": part,
                "since": since.isoformat() if since else None,
                "until": until.isoformat() if until else None,
            },
        )
    )


def _moment(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def _in_process(
    store: Store, cache: InspectorCache, model: ModelVersion, images: Iterable[ImageJob]
) -> Iterator[Computed]:
    for image in images:
        try:
            pixels = decode_image(image.data, image.name)
            finding, heatmap = run_model(cache, model, pixels, image.name)
            yield Computed(image.key, finding, heatmap, None, "local")
        except InvalidInput as exc:
            yield Computed(image.key, None, None, exc.detail, "local")


def _images(store: Store, records: list[InspectionRecord]) -> Iterator[ImageJob]:
    for r in records:
        yield ImageJob(r.id, r.serial or r.id, store.blobs.get(r.image_sha256))


def run_rescore(
    store: Store,
    caller: Caller,
    job: Job,
    cache: InspectorCache,
    engine: RayEngine | None = None,
) -> dict[str, Any]:
    """Re-inspect the window's records with the job's model; counts of changed verdicts."""
    params = job.params
    with store.session(caller, read_only=True) as session:
        model, part_id = placed_model(session, job.subject_id, Placement(params["part_id"]))
        records = session.inspections.own_oldest(
            MAX_RECORDS + 1,
            _moment(params.get("since")),
            _moment(params.get("until")),
            part_id=part_id,
        )
    truncated = len(records) > MAX_RECORDS
    records = records[:MAX_RECORDS]
    by_id = {r.id: r for r in records}
    on_ray = engine is not None and engine.uses_ray_for(len(records))
    if on_ray:
        assert engine is not None
        model_tar = store.blobs.get(model.blob_sha256 or "")
        computed = inspect_over_ray(
            engine, model_tar, chosen_threshold(model), _images(store, records)
        )
    else:
        computed = _in_process(store, cache, model, _images(store, records))
    counts: Counter[str] = Counter()
    nodes: Counter[str] = Counter()
    changed: list[dict[str, Any]] = []
    seen: set[str] = set()
    for done in computed:
        if done.key in seen:  # Ray re-ran a block
            continue
        seen.add(done.key)
        nodes[done.node_id] += 1
        record = by_id[done.key]
        if done.finding is None:
            counts["refused"] += 1
        else:
            before = record.verdict.value if record.verdict else None
            after = "ng" if done.finding.is_defect else "ok"
            if before is None:
                counts["not_judged_before"] += 1
            elif before == after:
                counts["unchanged"] += 1
            else:
                counts[f"{before}_to_{after}"] += 1
                if len(changed) < CHANGED_LISTED:
                    changed.append(
                        {
                            "inspection_id": record.id,
                            "serial": record.serial,
                            "before": before,
                            "after": after,
                            "score_before": record.score,
                            "score_after": done.finding.score,
                        }
                    )
        if len(seen) % REPORT_EVERY == 0:
            with store.session(caller) as session:
                session.jobs.report(
                    job.id, len(seen) / len(records), f"re-scored {len(seen)} of {len(records)}"
                )
    result: dict[str, Any] = {
        "model_id": model.id,
        "part_id": part_id,
        "records": len(records),
        "truncated": truncated,
        "ok_to_ng": counts["ok_to_ng"],
        "ng_to_ok": counts["ng_to_ok"],
        "unchanged": counts["unchanged"],
        "not_judged_before": counts["not_judged_before"],
        "refused": counts["refused"],
        "changed": changed,
        "runner": "ray" if on_ray else "local",
    }
    if on_ray:
        result["nodes"] = dict(nodes)
    return result
