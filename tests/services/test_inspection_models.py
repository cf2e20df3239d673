"""Inspection models in the platform: create, train as a job, inspect one image or a batch."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import func, select

from dure.domain.jobs import JobKind, JobStatus
from dure.domain.parts import PartNumber
from dure.domain.users import Caller, Role
from dure.errors import Conflict, Forbidden, InvalidInput
from dure.services.collaboration.adaptation import queue_adaptation
from dure.services.demo.sheet_metal import sheet_image
from dure.services.inspection import batches
from dure.services.inspection.batches import BATCH_CHUNK, queue_batch
from dure.services.inspection.inspect import inspect_image
from dure.services.inspection.records import Placement
from dure.services.inspection.teaching import (
    TrainingSettings,
    create_inspection_model,
    queue_training,
)
from dure.services.platform.jobs import JobRunner
from dure.store import tables as t
from dure.store.session import Store
from tests.factories import World
from tests.services.inspection_world import (
    FAST,
    LIMITS,
    SIZE,
    engineer_of_a,
    png,
    teach_images,
)


def test_training_job_makes_a_ready_model_with_card(store: Store, world: World, trained: str):
    with store.session(engineer_of_a(world)) as s:
        model = s.model_versions.get(trained)
    assert model.status == "ready" and model.blob_sha256
    card = model.card
    assert card["teaching"]["good_images"] + card["teaching"]["held_out_good_images"] == 12
    assert card["threshold"]["method"] == "best_f1"
    assert card["defect_types"] == ["dent", "scratch"]
    assert card["held_out_image_auroc"] > 0.8


def test_inspect_one_image_stores_verdict_type_and_heatmap(
    store: Store, world: World, runner: JobRunner, trained: str
) -> None:
    results = {}
    for label, seed in (("good", 900), ("dent", 901)):
        data = png(sheet_image(seed, label, SIZE).pixels)
        results[label] = inspect_image(
            store,
            runner.cache,
            engineer_of_a(world),
            trained,
            data,
            f"{label}.png",
            LIMITS,
            Placement(),
        )
    good, dent = results["good"].record, results["dent"].record
    assert good.verdict == "ok" and good.defect_type is None
    assert dent.verdict == "ng" and dent.defect_type == "dent"
    assert dent.score > good.score and dent.model_version_id == trained
    heat = Image.open(io.BytesIO(store.blobs.get(dent.heatmap_sha256 or "")))
    assert heat.size == (SIZE, SIZE) and heat.mode == "RGB"
    assert good.regions == []  # a good part: nothing outlined
    box = dent.regions[0]["box"]
    ys, xs = np.nonzero(sheet_image(901, "dent", SIZE).mask)
    assert box[0] <= xs.mean() <= box[2] and box[1] <= ys.mean() <= box[3]
    assert dent.regions[0]["defect_type"] == "dent" and dent.regions[0]["peak"] >= 1.0


def test_a_refused_image_leaves_no_record(store: Store, world: World, runner, trained) -> None:
    def count() -> int:
        with store.engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(t.inspection_records)).scalar()

    def blobs() -> int:
        with store.engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(t.blobs)).scalar()

    before, blobs_before = count(), blobs()
    grey = png(np.full((SIZE, SIZE), 120, np.uint8))  # the model was taught on colour
    caller = engineer_of_a(world)
    with pytest.raises(InvalidInput, match="taught on colour"):
        inspect_image(store, runner.cache, caller, trained, grey, "grey.png", LIMITS, Placement())
    with pytest.raises(InvalidInput, match="damaged|not an image"):
        inspect_image(
            store, runner.cache, caller, trained, b"\x89PNG\r\n", "cut.png", LIMITS, Placement()
        )
    with pytest.raises(InvalidInput, match="lot_id"):  # placement is checked before inference
        placement = Placement(lot_id="not-a-lot-of-yours")
        inspect_image(store, runner.cache, caller, trained, grey, "grey.png", LIMITS, placement)
    assert count() == before
    assert blobs() == blobs_before


def test_batch_job_inspects_every_image(store: Store, world: World, runner, trained) -> None:
    files = [(f"p{k}.png", png(sheet_image(950 + k, "good", SIZE).pixels)) for k in range(3)]
    files.append(("grey.png", png(np.full((SIZE, SIZE), 120, np.uint8))))
    with store.session(engineer_of_a(world)) as s:
        job = queue_batch(
            s, trained, files, LIMITS, Placement(station_id=world.a.ids["station"])
        ).job
    runner.run_next()
    with store.session(engineer_of_a(world)) as s:
        done = s.jobs.get(job.id)
        records = [s.inspections.get(i) for i in done.result["inspection_ids"]]
    assert done.status == JobStatus.SUCCEEDED, done.error
    assert done.result["ok"] + done.result["ng"] == 3 and done.result["refused"] == 1
    assert done.result["refused_images"][0]["filename"] == "grey.png"
    assert all(r.station_id == world.a.ids["station"] and r.heatmap_sha256 for r in records)


def _good_images(first: int, n: int) -> list[tuple[str | None, bytes]]:
    return [
        (f"p{k}.png", png(sheet_image(k, "good", SIZE).pixels)) for k in range(first, first + n)
    ]


def _records_by(store: Store, model_id: str) -> list[str]:
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(t.inspection_records.c.serial).where(
                t.inspection_records.c.model_version_id == model_id
            )
        ).all()
    return sorted(r[0] for r in rows)


def test_a_batch_sent_again_adds_nothing(store: Store, world: World, runner, trained) -> None:
    files = _good_images(970, 3)
    placement = Placement(station_id=world.a.ids["station"])
    with store.session(engineer_of_a(world)) as s:
        first = queue_batch(s, trained, files, LIMITS, placement)
    runner.run_next()
    with store.session(engineer_of_a(world)) as s:  # e.g. the answer was lost on the network
        again = queue_batch(s, trained, files, LIMITS, placement)
    assert again.replayed and again.job.id == first.job.id
    assert again.job.status == JobStatus.SUCCEEDED
    assert runner.run_next() is None
    assert _records_by(store, trained) == ["p970.png", "p971.png", "p972.png"]
    # a key of the caller's names the batch; the same key for other images is a conflict
    with store.session(engineer_of_a(world)) as s:
        keyed = queue_batch(s, trained, files[:2], LIMITS, placement, key="lot-42/1")
        assert not keyed.replayed and keyed.job.id != first.job.id
        assert queue_batch(s, trained, files[:2], LIMITS, placement, key="lot-42/1").replayed
        with pytest.raises(Conflict, match="Idempotency-Key: already used"):
            queue_batch(s, trained, files[:1], LIMITS, placement, key="lot-42/1")
        with pytest.raises(InvalidInput, match="Idempotency-Key"):
            queue_batch(s, trained, files[:1], LIMITS, placement, key="bad\x00key")


def test_a_stopped_batch_goes_on_where_it_stopped(
    store: Store, world: World, runner, trained, monkeypatch: pytest.MonkeyPatch
) -> None:
    n = BATCH_CHUNK + 4
    files = _good_images(1000, n)
    with store.session(engineer_of_a(world)) as s:
        job = queue_batch(s, trained, files, LIMITS, Placement()).job
    real, calls = batches.run_model, []

    def killed_in_the_second_chunk(*args):  # type: ignore[no-untyped-def]
        calls.append(1)
        if len(calls) > BATCH_CHUNK + 1:
            raise SystemExit("kill -9")  # nothing of the runner's handling runs
        return real(*args)

    monkeypatch.setattr(batches, "run_model", killed_in_the_second_chunk)
    with pytest.raises(SystemExit):
        runner.run_next()
    assert len(_records_by(store, trained)) == BATCH_CHUNK  # the first chunk was written
    with store.system() as system:  # the server starts again
        assert system.job_queue.settle_interrupted() == 1
    with store.session(engineer_of_a(world)) as s:
        assert s.jobs.get(job.id).status == JobStatus.QUEUED
    monkeypatch.setattr(batches, "run_model", real)
    runner.run_next()
    with store.session(engineer_of_a(world)) as s:
        done = s.jobs.get(job.id)
    assert done.status == JobStatus.SUCCEEDED, done.error
    assert done.attempts == 2 and done.result["resumed"] == BATCH_CHUNK
    assert len(set(done.result["inspection_ids"])) == n
    assert _records_by(store, trained) == sorted(name for name, _ in files)  # each once


def test_a_failed_batch_sent_again_is_finished_not_doubled(
    store: Store, world: World, runner, trained, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = _good_images(1040, BATCH_CHUNK + 2)
    with store.session(engineer_of_a(world)) as s:
        job = queue_batch(s, trained, files, LIMITS, Placement()).job
    real, calls = batches.run_model, []

    def fails_in_the_second_chunk(*args):  # type: ignore[no-untyped-def]
        calls.append(1)
        if len(calls) > BATCH_CHUNK:
            raise RuntimeError("out of memory")
        return real(*args)

    monkeypatch.setattr(batches, "run_model", fails_in_the_second_chunk)
    runner.run_next()
    with store.session(engineer_of_a(world)) as s:
        assert s.jobs.get(job.id).status == JobStatus.FAILED
        again = queue_batch(s, trained, files, LIMITS, Placement())
    assert not again.replayed and again.job.id == job.id
    assert again.job.status == JobStatus.QUEUED
    monkeypatch.setattr(batches, "run_model", real)
    runner.run_next()
    with store.session(engineer_of_a(world)) as s:
        assert s.jobs.get(job.id).status == JobStatus.SUCCEEDED
    assert _records_by(store, trained) == sorted(name for name, _ in files)


def test_a_batch_interrupted_too_often_fails(store: Store, world: World, trained) -> None:
    with store.session(engineer_of_a(world)) as s:
        job = queue_batch(s, trained, _good_images(1080, 1), LIMITS, Placement()).job
    for attempt in range(1, 4):
        with store.system() as system:
            claimed = system.job_queue.claim_next(job.id)
            assert claimed is not None and claimed.attempts == attempt
        with store.system() as system:
            system.job_queue.settle_interrupted()
    with store.session(engineer_of_a(world)) as s:
        settled = s.jobs.get(job.id)
    assert settled.status == JobStatus.FAILED and "interrupted" in (settled.error or "")


def test_a_bad_file_refuses_the_whole_batch(store: Store, world: World, runner, trained) -> None:
    files = [("ok.png", png(sheet_image(960, "good", SIZE).pixels)), ("bad.png", b"nope")]
    with pytest.raises(InvalidInput, match="bad.png"):
        with store.session(engineer_of_a(world)) as s:
            queue_batch(s, trained, files, LIMITS, Placement())
    with store.session(engineer_of_a(world)) as s:
        assert s.jobs.list(kind="inspect_batch", subject_id=trained).items == []


def test_training_needs_good_images_and_a_draft(store: Store, world: World, trained) -> None:
    with store.session(engineer_of_a(world)) as s:
        with pytest.raises(Conflict, match="ready"):
            queue_training(s, trained)
        other = s.parts.add(PartNumber(org_id=world.a.org.id, number="EMPTY", name="None"))
        empty = create_inspection_model(s, other.id)
        with pytest.raises(InvalidInput, match="good labelled images"):
            queue_training(s, empty.id)
        with pytest.raises(InvalidInput, match="image_size"):
            create_inspection_model(s, other.id, settings=TrainingSettings(image_size=100))


def test_other_tenants_cannot_use_the_model(store: Store, world: World, runner, trained) -> None:
    caller_b = Caller(
        org_id=world.b.org.id,
        user_id=world.b.ids["user_engineer"],
        role=Role.ENGINEER,
        org_kind="supplier",
    )
    data = png(sheet_image(970, "good", SIZE).pixels)
    with pytest.raises(Exception, match="does not exist or is not yours"):
        inspect_image(store, runner.cache, caller_b, trained, data, "x.png", LIMITS, Placement())


def test_interrupted_jobs_fail_and_queued_jobs_wait(store: Store, world: World, runner) -> None:
    part_id = teach_images(store, world)
    with store.session(engineer_of_a(world)) as s:
        job = queue_training(s, create_inspection_model(s, part_id, settings=FAST).id)
    with store.engine.begin() as conn:
        conn.execute(t.jobs.update().values(status="running"))
    with store.engine.begin() as conn:
        conn.execute(t.model_versions.update().values(status="training"))
    runner.start()
    runner.stop()
    with store.session(engineer_of_a(world)) as s:
        failed = s.jobs.get(job.id)
        model = s.model_versions.get(job.subject_id)
    assert failed.status == JobStatus.FAILED and "interrupted" in (failed.error or "")
    assert model.status == "failed"  # not "training" for ever: it can be trained again
    with store.session(engineer_of_a(world)) as s:
        queue_training(s, model.id)


def test_adapting_is_a_job_checked_at_once(store: Store, world: World, runner, trained) -> None:
    with store.session(engineer_of_a(world)) as s:
        with pytest.raises(InvalidInput, match="false_alarm_rate"):
            queue_adaptation(s, trained, false_alarm_rate=0.7)
        viewer = Caller(org_id=world.a.org.id, user_id=None, role=Role.VIEWER, org_kind="supplier")
    with store.session(viewer) as s, pytest.raises(Forbidden):
        queue_adaptation(s, trained)
    with store.session(engineer_of_a(world)) as s:
        job = queue_adaptation(s, trained, seed=3)
    assert job.status == JobStatus.QUEUED and job.kind == JobKind.ADAPT_MODEL
    runner.run_next()
    with store.session(engineer_of_a(world)) as s:
        done = s.jobs.get(job.id)
        assert done.status == JobStatus.SUCCEEDED, done.error
        made = s.model_versions.get(done.result["model_version_id"])
    assert made.status == "ready" and made.base_version_id == trained
    assert made.card["adaptation"]["after"]["false_alarm_rate"] <= 1
    assert (
        done.result["before"]["good_images"]
        == made.card["adaptation"]["own_good_images"]["evaluate"]
    )
