"""Batch inspection on a local multi-node Ray cluster, through the job system: the same
records as in process, work done on every node, and a node killed mid-job costs nothing
(no image missing, none written twice)."""

from __future__ import annotations

import threading
import time
from collections import Counter
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from sqlalchemy import select

from dure.cli import main
from dure.domain.jobs import Job, JobStatus
from dure.scale.cluster import RayEngine
from dure.services.demo.sheet_metal import sheet_image
from dure.services.inspection import batches
from dure.services.inspection.batches import queue_batch
from dure.services.inspection.records import Placement
from dure.services.inspection.rescoring import queue_rescore
from dure.services.inspection.retraining import queue_retraining
from dure.services.inspection.teaching import create_inspection_model, queue_training
from dure.services.platform.jobs import JobRunner
from dure.services.platform.model_files import InspectorCache
from dure.settings import Settings
from dure.store import tables as t
from dure.store.session import Store
from tests.factories import World
from tests.scale.conftest import worker_node_ids
from tests.services.inspection_world import (
    FAST,
    LIMITS,
    SIZE,
    engineer_of_a,
    png,
    teach_images,
)

pytestmark = [pytest.mark.ray, pytest.mark.slow]
ray = pytest.importorskip("ray", reason="needs the extra dure[scale]")


def _runner(store: Store, settings: Settings, engine: RayEngine | None = None) -> JobRunner:
    cache = InspectorCache(store.blobs, settings.model_dir)
    return JobRunner(store, settings.work_dir, cache, scale=engine)


def _trained(store: Store, world: World, settings: Settings) -> str:
    part_id = teach_images(store, world)
    with store.session(engineer_of_a(world)) as s:
        model = create_inspection_model(s, part_id, settings=FAST)
        job = queue_training(s, model.id)
    _runner(store, settings).run_next(job.id)
    done = _finished(store, world, job.id)
    assert done.status == JobStatus.SUCCEEDED, done.error
    return model.id


def _files(n: int, first: int = 2000) -> list[tuple[str | None, bytes]]:
    """Good parts, every fifth a scratched or dented one, and one image the model refuses."""
    labels = ["good", "good", "scratch", "good", "dent"]
    files: list[tuple[str | None, bytes]] = [
        (f"p{k}.png", png(sheet_image(first + k, labels[k % 5], SIZE).pixels)) for k in range(n - 1)
    ]
    files.append(("grey.png", png(np.full((SIZE, SIZE), 120, np.uint8))))
    return files


def _queue(store: Store, world: World, model_id: str, files: list, key: str) -> Job:
    with store.session(engineer_of_a(world)) as s:
        return queue_batch(s, model_id, files, LIMITS, Placement(), key=key).job


def _finished(store: Store, world: World, job_id: str) -> Job:
    with store.session(engineer_of_a(world)) as s:
        return s.jobs.get(job_id)


def _records(store: Store, job_id: str) -> list[Any]:
    with store.engine.connect() as conn:
        return conn.execute(
            select(t.inspection_records).where(
                t.inspection_records.c.source_key.like(f"{job_id}:%")
            )
        ).all()


def _by_serial(rows: list[Any]) -> dict[str, tuple]:
    return {
        r.serial: (r.verdict, r.score, r.defect_type, r.heatmap_sha256, r.regions) for r in rows
    }


def test_ray_batch_equals_in_process_and_uses_every_node(
    ray_cluster: Any, store: Store, world: World, settings: Settings
) -> None:
    model_id = _trained(store, world, settings)
    files = _files(16)
    local = _queue(store, world, model_id, files, key="in-process")
    _runner(store, settings).run_next(local.id)
    engine = RayEngine(ray_cluster.address, min_images=len(files), workers=2)
    on_ray = _queue(store, world, model_id, files, key="on-ray")
    _runner(store, settings, engine).run_next(on_ray.id)

    local_done, ray_done = _finished(store, world, local.id), _finished(store, world, on_ray.id)
    assert local_done.status == ray_done.status == JobStatus.SUCCEEDED, ray_done.error
    assert local_done.result["runner"] == "local" and ray_done.result["runner"] == "ray"
    local_rows, ray_rows = _records(store, local.id), _records(store, on_ray.id)
    assert len(ray_rows) == len(files) - 1  # the grey image is refused by both
    differ = {
        k: (v, _by_serial(local_rows).get(k))
        for k, v in _by_serial(ray_rows).items()
        if v != _by_serial(local_rows).get(k)
    }
    assert not differ and len(ray_rows) == len(local_rows), differ
    assert {r.verdict for r in ray_rows} == {"ok", "ng"}  # both verdicts were compared
    for field in ("ok", "ng", "refused", "refused_images"):
        assert ray_done.result[field] == local_done.result[field]
    nodes = ray_done.result["nodes"]
    assert set(nodes) == worker_node_ids(ray_cluster), nodes  # both workers, never the head
    assert sum(nodes.values()) == len(files)

    # re-scoring the part's history (both batches' records) counts the same on Ray
    rescored = {}
    for name, runner in (
        ("local", _runner(store, settings)),
        ("ray", _runner(store, settings, engine)),
    ):
        with store.session(engineer_of_a(world)) as s:
            job = queue_rescore(s, model_id)
        runner.run_next(job.id)
        rescored[name] = _finished(store, world, job.id).result
    assert rescored["ray"]["runner"] == "ray" and rescored["local"]["runner"] == "local"
    assert rescored["ray"]["records"] == 2 * len(ray_rows)
    for field in ("records", "ok_to_ng", "ng_to_ok", "unchanged", "refused", "changed"):
        assert rescored["ray"][field] == rescored["local"][field], rescored
    assert rescored["ray"]["unchanged"] == 2 * len(ray_rows)  # same model: nothing changes


def test_a_batch_under_the_crossover_stays_in_process(
    ray_cluster: Any, store: Store, world: World, settings: Settings
) -> None:
    model_id = _trained(store, world, settings)
    files = _files(3, first=2100)
    engine = RayEngine(ray_cluster.address, min_images=len(files) + 1)
    job = _queue(store, world, model_id, files, key="small")
    _runner(store, settings, engine).run_next(job.id)
    done = _finished(store, world, job.id)
    assert done.status == JobStatus.SUCCEEDED and done.result["runner"] == "local"


def test_retraining_runs_one_ray_task_per_model_on_every_node(
    ray_cluster: Any, store: Store, world: World, settings: Settings
) -> None:
    ids = []
    for k in range(2):
        part_id = teach_images(store, world, number=f"PANEL-T{k}")
        with store.session(engineer_of_a(world)) as s:
            ids.append(create_inspection_model(s, part_id, settings=FAST).id)
    with store.session(engineer_of_a(world)) as s:
        job = queue_retraining(s, ids)
    engine = RayEngine(ray_cluster.address)
    _runner(store, settings, engine).run_next(job.id)
    done = _finished(store, world, job.id)
    assert done.status == JobStatus.SUCCEEDED, done.error
    assert done.result["runner"] == "ray" and done.result["failed"] == []
    assert set(done.result["nodes"]) == worker_node_ids(ray_cluster)  # one task per node
    with store.session(engineer_of_a(world)) as s:
        assert {s.model_versions.get(i).status for i in ids} == {"ready"}


def test_a_node_killed_mid_job_loses_and_doubles_nothing(
    ray_cluster: Any,
    store: Store,
    world: World,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(batches, "WRITE_CHUNK", 2)  # results reach the store steadily
    model_id = _trained(store, world, settings)
    files = _files(40, first=2200)
    engine = RayEngine(ray_cluster.address, min_images=1, workers=2)
    job = _queue(store, world, model_id, files, key="killed")
    worker = threading.Thread(target=_runner(store, settings, engine).run_next, args=(job.id,))
    worker.start()
    deadline = time.monotonic() + 90
    while len(_records(store, job.id)) < 0.3 * len(files):
        assert worker.is_alive(), "the job ended before a node could be killed"
        assert time.monotonic() < deadline, "no progress on the cluster"
        time.sleep(0.05)
    victim = next(iter(ray_cluster.worker_nodes))
    ray_cluster.remove_node(victim, allow_graceful=False)
    written_before = len(_records(store, job.id))
    assert written_before < len(files) - 1, "the job was done before the node was killed"
    worker.join(timeout=120)
    assert not worker.is_alive(), "the job did not finish after the node was lost"

    done = _finished(store, world, job.id)
    assert done.status == JobStatus.SUCCEEDED, done.error
    rows = _records(store, job.id)
    keys = Counter(r.source_key for r in rows)
    assert max(keys.values()) == 1  # none written twice
    assert sorted(r.serial for r in rows) == sorted(n for n, _ in files if n != "grey.png")
    assert done.result["ok"] + done.result["ng"] == len(files) - 1
    assert [i["filename"] for i in done.result["refused_images"]] == ["grey.png"]


def test_dure_work_runs_a_queued_batch_on_the_configured_cluster(
    ray_cluster: Any, store: Store, world: World, settings: Settings
) -> None:
    model_id = _trained(store, world, settings)
    job = _queue(store, world, model_id, _files(4, first=2300), key="worker")
    env = {
        "DURE_HOME": str(settings.home),
        "DURE_RAY_ADDRESS": ray_cluster.address,
        "DURE_RAY_MIN_IMAGES": "4",
        "DURE_RAY_WORKERS": "2",
    }
    if settings.database_url:
        env["DURE_DATABASE_URL"] = settings.database_url
    result = CliRunner().invoke(main, ["work", "--until-idle"], env=env)
    assert result.exit_code == 0, result.output
    assert f"Ray at {ray_cluster.address} for batches of 4+" in result.output
    done = _finished(store, world, job.id)
    assert done.status == JobStatus.SUCCEEDED, done.error
    assert done.result["runner"] == "ray" and done.result["ok"] + done.result["ng"] == 3
    assert ray.is_initialized()  # the worker left the connection it did not make
