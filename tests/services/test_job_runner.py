"""The job runner keeps going: a store error outside a job does not kill a worker, a long
training does not hold back a batch, and /api/health says when a worker is down."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest

from dure.domain.jobs import Job, JobKind, JobStatus
from dure.errors import StoreUnavailable
from dure.services.platform import jobs as jobs_module
from dure.services.platform.accounts import system_caller
from dure.services.platform.jobs import JobRunner
from dure.services.platform.model_files import InspectorCache
from dure.settings import Settings
from dure.store.session import Store
from tests.factories import World


def _queue(store: Store, world: World, kind: JobKind) -> str:
    with store.session(system_caller(world.a.org)) as s:
        return s.jobs.add(
            Job(org_id=world.a.org.id, kind=kind, subject_id=world.a.ids["model_version"])
        ).id


def _status(store: Store, world: World, job_id: str) -> JobStatus:
    with store.session(system_caller(world.a.org)) as s:
        return s.jobs.get(job_id).status


def _until(check: Any, seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


@pytest.fixture
def runner(store: Store, settings: Settings) -> JobRunner:
    return JobRunner(store, settings.work_dir, InspectorCache(store.blobs, settings.model_dir))


def test_a_long_training_does_not_hold_back_a_batch(
    store: Store, world: World, runner: JobRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    release = threading.Event()

    def slow_training(*_: Any) -> dict[str, Any]:
        release.wait(20)
        return {"trained": True}

    monkeypatch.setattr(jobs_module, "run_training", slow_training)
    monkeypatch.setattr(jobs_module, "run_batch", lambda *_: {"inspected": 0})
    training = _queue(store, world, JobKind.TRAIN_INSPECTION_MODEL)
    batch = _queue(store, world, JobKind.INSPECT_BATCH)
    runner.start()
    try:
        _until(lambda: _status(store, world, batch) == JobStatus.SUCCEEDED)
        assert _status(store, world, training) == JobStatus.RUNNING
        lanes = {w["lane"]: w for w in runner.status()["workers"]}
        assert lanes["training"]["job_id"] == training and lanes["inspection"]["job_id"] is None
    finally:
        release.set()
        runner.stop()
    assert _status(store, world, training) == JobStatus.SUCCEEDED


def test_a_store_error_outside_a_job_does_not_kill_the_worker(
    store: Store, world: World, runner: JobRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(jobs_module, "BACKOFF_FIRST_S", 0.05)
    monkeypatch.setattr(jobs_module, "run_batch", lambda *_: {"inspected": 0})
    real = runner.run_next
    failures = {"left": 2}

    def flaky(*args: Any, **kwargs: Any) -> Any:
        if kwargs.get("kinds") == jobs_module.LANES["inspection"] and failures["left"]:
            failures["left"] -= 1
            raise StoreUnavailable("the store cannot be reached: database is locked")
        return real(*args, **kwargs)

    monkeypatch.setattr(runner, "run_next", flaky)
    batch = _queue(store, world, JobKind.INSPECT_BATCH)
    runner.start()
    try:
        _until(lambda: _status(store, world, batch) == JobStatus.SUCCEEDED)
        inspection = {w["lane"]: w for w in runner.status()["workers"]}["inspection"]
        assert inspection["alive"] and inspection["errors"] == 2
        assert "database is locked" in inspection["last_error"]
    finally:
        runner.stop()


def test_health_reports_the_queue_and_answers_503_when_a_worker_is_dead(
    client, store: Store, world: World
) -> None:  # type: ignore[no-untyped-def]
    install = client.app.state.install
    install.jobs.stop()  # the lanes' threads end, as a crashed worker's would
    _queue(store, world, JobKind.INSPECT_BATCH)
    response = client.get("/api/health")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "degraded" and body["jobs"]["queue"]["queued"] == 1
    assert body["jobs"]["queue"]["oldest_queued_s"] >= 0
    assert not any(w["alive"] for w in body["jobs"]["workers"])


def test_health_is_ok_with_live_workers(client) -> None:  # type: ignore[no-untyped-def]
    body = client.get("/api/health").json()
    assert body["status"] == "ok" and body["jobs"]["healthy"]
    assert {w["lane"] for w in body["jobs"]["workers"]} == {
        "training",
        "inspection",
        "parity",
        "checks",
        "outbox",
    }


def test_the_runner_state_is_plain_json(runner: JobRunner, tmp_path: Path) -> None:
    status = runner.status()
    assert status["running"] is False and status["queue"]["queued"] == 0


def _nice_of_thread(native_id: int) -> int:
    # /proc/<pid>/task/<tid>/stat: the 19th field is the nice value (after "(name)")
    stat = Path(f"/proc/self/task/{native_id}/stat").read_text()
    return int(stat.rsplit(")", 1)[1].split()[16])


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux /proc")
def test_job_workers_yield_the_cpu_to_requests(
    store: Store, world: World, runner: JobRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: dict[str, int] = {}

    def batch_noting_its_priority(*_: Any) -> dict[str, Any]:
        seen["job"] = _nice_of_thread(threading.get_native_id())
        return {"inspected": 0}

    monkeypatch.setattr(jobs_module, "run_batch", batch_noting_its_priority)
    batch = _queue(store, world, JobKind.INSPECT_BATCH)
    runner.start()
    try:
        _until(lambda: _status(store, world, batch) == JobStatus.SUCCEEDED)
    finally:
        runner.stop()
    requests = _nice_of_thread(threading.get_native_id())  # as the API's threads run
    assert seen["job"] == requests + jobs_module.JOB_NICENESS or seen["job"] == 19
