"""Fixtures of the service tests: a job runner, and a trained inspection model."""

from __future__ import annotations

import pytest

from dure.domain.jobs import JobStatus
from dure.services.inspection.teaching import create_inspection_model, queue_training
from dure.services.platform.jobs import JobRunner
from dure.services.platform.model_files import InspectorCache
from dure.settings import Settings
from dure.store.session import Store
from tests.factories import World
from tests.services.inspection_world import FAST, engineer_of_a, teach_images


@pytest.fixture
def runner(store: Store, settings: Settings) -> JobRunner:
    cache = InspectorCache(store.blobs, settings.home / "models")
    return JobRunner(store, settings.home / "work", cache)


@pytest.fixture
def trained(store: Store, world: World, runner: JobRunner) -> str:
    part_id = teach_images(store, world)
    with store.session(engineer_of_a(world)) as s:
        model = create_inspection_model(s, part_id, settings=FAST)
        job = queue_training(s, model.id)
    assert runner.run_next() is not None
    with store.session(engineer_of_a(world)) as s:
        done = s.jobs.get(job.id)
        assert done.status == JobStatus.SUCCEEDED, done.error
        assert done.progress == 1.0 and done.result["model_id"] == model.id
    return model.id
