"""Many small trainings at once: each a Ray task (one CPU) returning the saved model's files.

The job thread reads every model's teaching images and records each trained model as it
comes back (store blob, card, status); the tasks only compute. ``train_files`` is the one
training call, used the same in process and on Ray.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dure.models.vision.inspector import Inspector, TeachingSet
from dure.scale.cluster import RayEngine


@dataclass(frozen=True)
class TrainingTask:
    """One model to teach: its id, the inspector's parameters, the false-alarm rate, images."""

    model_id: str
    params: dict[str, Any]
    false_alarm_rate: float
    teaching: TeachingSet


@dataclass(frozen=True)
class Trained:
    """A taught model: its saved folder's files (relative path -> bytes), the teaching
    report, the seconds it took, and where (``local`` or a Ray node id); or the error."""

    model_id: str
    files: dict[str, bytes]
    report: dict[str, Any]
    seconds: float
    node_id: str
    error: str | None = None


def train_files(task: TrainingTask, node_id: str = "local", threads: int | None = None) -> Trained:
    """Teach one inspector and return its saved files (no store: the caller records it)."""
    if threads:
        import torch

        torch.set_num_threads(threads)
    started = time.perf_counter()
    inspector = Inspector(task.params, task.false_alarm_rate).fit(task.teaching)
    seconds = time.perf_counter() - started
    with tempfile.TemporaryDirectory(prefix="dure-train-") as folder:
        inspector.save(Path(folder))
        files = {
            str(p.relative_to(folder)): p.read_bytes()
            for p in sorted(Path(folder).rglob("*"))
            if p.is_file()
        }
    return Trained(task.model_id, files, dict(inspector.report_), seconds, node_id)


def _train_on_node(task: TrainingTask) -> Trained:
    import ray

    return train_files(task, ray.get_runtime_context().get_node_id(), threads=1)


def train_many(engine: RayEngine, tasks: list[TrainingTask]) -> Iterator[Trained]:
    """Teach every task's model as a Ray task (one CPU each, spread over the nodes); yields
    each as it finishes. A task that fails yields a ``Trained`` with its ``error``; Ray
    retries a task whose worker or node died (``max_retries``)."""
    ray = engine.connect()
    remote = ray.remote(num_cpus=1, max_retries=3, scheduling_strategy="SPREAD")(_train_on_node)
    pending = {remote.remote(task): task.model_id for task in tasks}
    while pending:
        done, _ = ray.wait(list(pending), num_returns=1)
        model_id = pending.pop(done[0])
        try:
            yield ray.get(done[0])
        except ray.exceptions.RayError as exc:
            cause = getattr(exc, "cause", None) or exc
            yield Trained(model_id, {}, {}, 0.0, "", f"{type(cause).__name__}: {cause}"[:500])
