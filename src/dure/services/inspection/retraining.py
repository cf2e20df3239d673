"""Retraining many inspection models at once (e.g. every part of an organisation).

One job teaches several draft (or failed) models of the caller. The job thread reads each
model's labelled images, the trainings run in process one after another or, with a Ray
engine, as Ray tasks at once (``dure.scale.training``), and the job thread records each
model as it comes back: blob, card, ``ready``; a model whose training fails is marked
``failed`` and the others go on.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from dure.domain.jobs import Job, JobKind
from dure.domain.users import Caller
from dure.errors import Conflict, InvalidInput
from dure.scale.cluster import RayEngine
from dure.scale.training import Trained, TrainingTask, train_files, train_many
from dure.services.inspection.records import store_blob
from dure.services.inspection.teaching import (
    MIN_GOOD_IMAGES,
    TrainingSettings,
    labelled_of_part,
    own_inspection_model,
    teaching_set,
)
from dure.services.platform.model_files import MEDIA_TYPE, pack_folder
from dure.store.session import Session, Store

MAX_MODELS = 200


def queue_retraining(session: Session, model_ids: list[str]) -> Job:
    """Queue one job teaching each of ``model_ids`` (the caller's draft or failed models,
    each with enough good images); all are checked before any is queued."""
    if not model_ids or len(model_ids) > MAX_MODELS:
        raise InvalidInput("model_ids", f"name 1 to {MAX_MODELS} models")
    if len(set(model_ids)) != len(model_ids):
        raise InvalidInput("model_ids", "a model is named twice")
    for model_id in model_ids:
        model = own_inspection_model(session, model_id)
        if model.status not in ("draft", "failed"):
            raise Conflict(f"model {model_id} is {model.status}; create a new version to train")
        images = labelled_of_part(session, model.part_id or "")
        good = sum(1 for i in images if i["label"] == "good")
        if good < MIN_GOOD_IMAGES:
            raise InvalidInput(
                "model_ids",
                f"model {model_id}: its part has {good} good images, needs {MIN_GOOD_IMAGES}",
            )
    for model_id in model_ids:
        session.model_versions.update_fields(model_id, status="queued")
    return session.jobs.add(
        Job(
            org_id=session.caller.org_id,
            kind=JobKind.RETRAIN_MODELS,
            subject_id=model_ids[0],
            created_by=session.caller.user_id,
            params={"model_ids": list(model_ids)},
        )
    )


def _task(store: Store, caller: Caller, model_id: str) -> TrainingTask:
    with store.session(caller) as s:
        model = own_inspection_model(s, model_id)
        s.model_versions.update_fields(model_id, status="training")
        images = labelled_of_part(s, model.part_id or "")
    settings = TrainingSettings(**model.card.get("settings", {}))
    params = {
        "image_size": settings.image_size,
        "coreset_ratio": settings.coreset_ratio,
        "random_state": settings.seed,
        "tile": settings.tile,
    }
    return TrainingTask(
        model_id, params, settings.false_alarm_rate, teaching_set(store, images, settings.seed)
    )


def _in_process(tasks: list[TrainingTask]) -> Iterator[Trained]:
    for task in tasks:
        try:
            yield train_files(task)
        except Exception as exc:  # noqa: BLE001 - one model's failure must not stop the rest
            yield Trained(task.model_id, {}, {}, 0.0, "local", f"{type(exc).__name__}: {exc}")


def _record(store: Store, caller: Caller, trained: Trained, work_root: Path) -> dict[str, Any]:
    work_root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=work_root) as folder:
        for name, data in trained.files.items():
            path = Path(folder) / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        packed = pack_folder(Path(folder))
    with store.session(caller) as s:
        model = s.model_versions.get(trained.model_id)
        card = {**model.card, **trained.report, "train_seconds": round(trained.seconds, 2)}
        sha = store_blob(s, packed, MEDIA_TYPE, f"model-{trained.model_id}.tar")
        s.model_versions.update_fields(trained.model_id, blob_sha256=sha, card=card, status="ready")
    return {
        "model_id": trained.model_id,
        "blob_sha256": sha,
        "threshold": card["threshold"]["value"],
        "train_seconds": card["train_seconds"],
        "node_id": trained.node_id,
    }


def run_retraining(
    store: Store, caller: Caller, job: Job, work_root: Path, engine: RayEngine | None = None
) -> dict[str, Any]:
    """Teach the job's models (on Ray when an engine is given and there are two or more),
    recording each as it finishes; the result lists the trained and the failed ones."""
    model_ids: list[str] = job.params["model_ids"]
    trained: list[dict[str, Any]] = []
    failed: list[dict[str, str]] = []
    tasks = []
    for model_id in model_ids:
        try:
            tasks.append(_task(store, caller, model_id))
        except Exception as exc:  # noqa: BLE001 - e.g. an image that no longer decodes
            failed.append({"model_id": model_id, "error": f"{type(exc).__name__}: {exc}"})
            with store.session(caller) as s:
                s.model_versions.update_fields(model_id, status="failed")
    on_ray = engine is not None and len(tasks) > 1
    results = train_many(engine, tasks) if on_ray and engine else _in_process(tasks)
    left = {t.model_id for t in tasks}
    try:
        for done in results:
            left.discard(done.model_id)
            error = done.error
            if error is None:
                try:
                    trained.append(_record(store, caller, done, work_root))
                except Exception as exc:  # noqa: BLE001 - recorded as this model's failure
                    error = f"{type(exc).__name__}: {exc}"
            with store.session(caller) as s:
                if error is not None:
                    failed.append({"model_id": done.model_id, "error": error[:500]})
                    s.model_versions.update_fields(done.model_id, status="failed")
                finished = len(trained) + len(failed)
                s.jobs.report(job.id, finished / len(model_ids), f"trained {finished}")
    finally:
        if left:  # the job stopped early: nothing half-trained stays "training"
            with store.session(caller) as s:
                for model_id in left:
                    s.model_versions.update_fields(model_id, status="failed")
    result: dict[str, Any] = {
        "trained": trained,
        "failed": failed,
        "runner": "ray" if on_ray else "local",
    }
    if on_ray:
        nodes: dict[str, int] = {}
        for t in trained:
            nodes[t["node_id"]] = nodes.get(t["node_id"], 0) + 1
        result["nodes"] = nodes
    return result
