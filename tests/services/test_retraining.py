"""Retraining several inspection models in one job: each recorded as it finishes, a
failure marks only its own model, a stopped server leaves no model 'training'."""

from __future__ import annotations

import pytest

from dure.domain.jobs import JobStatus
from dure.errors import Conflict, InvalidInput
from dure.services.demo.sheet_metal import sheet_image
from dure.services.inspection.retraining import queue_retraining
from dure.services.inspection.teaching import create_inspection_model
from dure.services.platform.model_files import model_from_bytes
from dure.store.session import Store
from tests.factories import World
from tests.services.inspection_world import FAST, SIZE, engineer_of_a, teach_images


def _drafts(store: Store, world: World, n: int) -> list[str]:
    ids = []
    for k in range(n):
        part_id = teach_images(store, world, number=f"PANEL-R{k}")
        with store.session(engineer_of_a(world)) as s:
            ids.append(create_inspection_model(s, part_id, settings=FAST).id)
    return ids


def test_one_job_teaches_every_model(store: Store, world: World, runner) -> None:  # type: ignore[no-untyped-def]
    ids = _drafts(store, world, 2)
    with store.session(engineer_of_a(world)) as s:
        job = queue_retraining(s, ids)
        assert {s.model_versions.get(i).status for i in ids} == {"queued"}
    runner.run_next(job.id)
    with store.session(engineer_of_a(world)) as s:
        done = s.jobs.get(job.id)
        models = [s.model_versions.get(i) for i in ids]
    assert done.status == JobStatus.SUCCEEDED, done.error
    assert done.result["runner"] == "local" and done.result["failed"] == []
    assert [t["model_id"] for t in done.result["trained"]] == ids
    good = sheet_image(4000, "good", SIZE).pixels
    for model in models:
        assert model.status == "ready" and model.card["train_seconds"] > 0
        inspector = model_from_bytes(store.blobs.get(model.blob_sha256 or ""))
        assert not inspector.inspect([good])[0].is_defect


def test_models_are_checked_before_any_is_queued(store: Store, world: World, trained) -> None:  # type: ignore[no-untyped-def]
    (draft,) = _drafts(store, world, 1)
    with store.session(engineer_of_a(world)) as s:
        with pytest.raises(Conflict, match="ready"):
            queue_retraining(s, [draft, trained])
        with pytest.raises(InvalidInput, match="model_ids"):
            queue_retraining(s, [draft, draft])
        with pytest.raises(InvalidInput, match="model_ids"):
            queue_retraining(s, [])
        assert s.model_versions.get(draft).status == "draft"  # nothing was queued


def test_a_stopped_server_fails_the_models_of_a_running_retraining(
    store: Store, world: World
) -> None:
    ids = _drafts(store, world, 2)
    with store.session(engineer_of_a(world)) as s:
        job = queue_retraining(s, ids)
    with store.system() as system:
        assert system.job_queue.claim_next(job.id) is not None
    with store.system() as system:  # the server starts again
        system.job_queue.settle_interrupted()
    with store.session(engineer_of_a(world)) as s:
        assert s.jobs.get(job.id).status == JobStatus.FAILED
        assert {s.model_versions.get(i).status for i in ids} == {"failed"}


def test_retrain_over_http(client, world: World) -> None:  # type: ignore[no-untyped-def]
    answer = client.post(
        "/api/inspection-models/retrain", json={"model_ids": []}, headers=world.a.auth("engineer")
    )
    assert answer.status_code == 422 and "model_ids" in answer.text
