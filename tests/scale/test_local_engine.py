"""DURE_RAY_ADDRESS=local: Dure starts its own Ray with a token it made, inspects on it,
and on close stops exactly that Ray (``ray.shutdown()``), nothing else."""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from dure.scale.cpu import descendants
from dure.settings import Settings

pytestmark = [pytest.mark.ray, pytest.mark.slow]
ray = pytest.importorskip("ray", reason="needs the extra dure[scale]")
SAVED = ("RAY_TMPDIR", "RAY_AUTH_MODE", "RAY_AUTH_TOKEN", "RAY_USAGE_STATS_ENABLED", "PYTHONPATH")


@pytest.fixture
def own_ray_folder() -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in SAVED}
    folder = tempfile.mkdtemp(dir="/tmp", prefix="r")
    os.environ["RAY_TMPDIR"] = folder
    try:
        yield
    finally:
        if ray.is_initialized():
            ray.shutdown()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        shutil.rmtree(folder, ignore_errors=True)


def _ray_children() -> set[int]:
    names = {}
    for pid in descendants(os.getpid()):
        try:
            names[pid] = Path(f"/proc/{pid}/comm").read_text().strip()
        except OSError:
            continue
    return {pid for pid, name in names.items() if name in ("raylet", "gcs_server")}


def test_a_local_ray_is_started_used_and_stopped(own_ray_folder: None, tmp_path: Path) -> None:
    from dure.bench.scale import _images, _teach
    from dure.scale.batch import inspect_over_ray
    from dure.scale.cluster import RayEngine
    from dure.scale.compute import inspect_bytes, load_inspector

    assert not ray.is_initialized()
    settings = Settings(home=tmp_path, ray_address="local", ray_workers=1)
    engine = RayEngine.from_settings(settings)
    assert engine is not None and engine.token_file is not None
    assert stat.S_IMODE(engine.token_file.stat().st_mode) == 0o600
    model, images = _teach(), _images(3)
    on_ray = {c.key: c for c in inspect_over_ray(engine, model, None, images)}
    assert os.environ["RAY_AUTH_MODE"] == "token"
    assert os.environ["RAY_AUTH_TOKEN"] == engine.token_file.read_text().strip()
    assert _ray_children(), "the local Ray runs as this process's children"
    local = load_inspector(model)
    for image in images:
        here = inspect_bytes(local, None, image, "local")
        assert on_ray[image.key].finding is not None and here.finding is not None
        assert on_ray[image.key].finding.score == here.finding.score
    engine.close()
    assert not ray.is_initialized() and not _ray_children()
