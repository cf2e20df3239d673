"""Re-scoring a part's history after a model change: counts of changed verdicts, nothing
written but the job's result."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dure.domain.jobs import JobStatus
from dure.errors import InvalidInput
from dure.services.demo.sheet_metal import sheet_image
from dure.services.inspection.batches import queue_batch
from dure.services.inspection.records import Placement
from dure.services.inspection.rescoring import queue_rescore
from dure.services.inspection.thresholds import MIN_THRESHOLD, set_threshold
from dure.store.session import Store
from tests.factories import World
from tests.services.inspection_world import LIMITS, SIZE, engineer_of_a, png


def _inspect_history(store: Store, world: World, runner, model_id: str) -> dict:  # type: ignore[no-untyped-def]
    labels = ["good", "good", "scratch", "good", "dent", "good"]
    files = [
        (f"h{k}.png", png(sheet_image(3000 + k, label, SIZE).pixels))
        for k, label in enumerate(labels)
    ]
    with store.session(engineer_of_a(world)) as s:
        job = queue_batch(s, model_id, files, LIMITS, Placement()).job
    runner.run_next(job.id)
    with store.session(engineer_of_a(world)) as s:
        return s.jobs.get(job.id).result


def _rescore(store: Store, world: World, runner, model_id: str, **window) -> dict:  # type: ignore[no-untyped-def]
    with store.session(engineer_of_a(world)) as s:
        job = queue_rescore(s, model_id, **window)
    runner.run_next(job.id)
    with store.session(engineer_of_a(world)) as s:
        done = s.jobs.get(job.id)
    assert done.status == JobStatus.SUCCEEDED, done.error
    return done.result


def _record_count(store: Store, world: World) -> int:
    with store.session(engineer_of_a(world)) as s:
        return len(s.inspections.list_own())


def test_rescoring_counts_changed_verdicts_and_writes_no_record(
    store: Store, world: World, runner, trained
) -> None:
    batch = _inspect_history(store, world, runner, trained)
    assert batch["ok"] > 0
    records = _record_count(store, world)
    same = _rescore(store, world, runner, trained)
    assert same["records"] == 6 and same["runner"] == "local"
    assert (same["ok_to_ng"], same["ng_to_ok"], same["unchanged"]) == (0, 0, 6)
    # the model changes: a threshold below every score flags every part
    with store.session(engineer_of_a(world)) as s:
        set_threshold(s, trained, MIN_THRESHOLD)
    changed = _rescore(store, world, runner, trained)
    assert changed["ok_to_ng"] == batch["ok"] and changed["ng_to_ok"] == 0
    assert changed["unchanged"] == batch["ng"]
    assert {c["before"] for c in changed["changed"]} == {"ok"}
    assert len(changed["changed"]) == batch["ok"]
    assert _record_count(store, world) == records  # read-only: no record added
    # a window before any record re-scores nothing
    past = datetime(2020, 1, 1, tzinfo=UTC)
    empty = _rescore(store, world, runner, trained, since=past, until=past + timedelta(days=1))
    assert empty["records"] == 0


def test_a_window_that_ends_before_it_starts_is_refused(
    store: Store, world: World, trained
) -> None:
    now = datetime.now(UTC)
    with store.session(engineer_of_a(world)) as s, pytest.raises(InvalidInput, match="until"):
        queue_rescore(s, trained, since=now, until=now - timedelta(hours=1))


def test_rescore_over_http_names_a_bad_window(client, world: World) -> None:  # type: ignore[no-untyped-def]
    url = f"/api/inspection-models/{world.a.ids['model_version']}/rescore"
    window = {"since": "2026-01-02T00:00:00Z", "until": "2026-01-01T00:00:00Z"}
    answer = client.post(url, json=window, headers=world.a.auth("engineer"))
    assert answer.status_code == 422 and "until" in answer.json()["detail"]
    unknown = client.post(
        "/api/inspection-models/nope/rescore", json={}, headers=world.a.auth("engineer")
    )
    assert unknown.status_code == 404
