"""Batch inspection over Ray Data: a pool of actors holding the model, results streamed back.

The driver (a Dure job thread) hands in the images' bytes and gets one ``Computed`` per
image as soon as it is done, in no particular order; it alone writes to the store. Each
actor loads the model once from the stored model blob (put in Ray's object store once per
batch) and inspects image by image with the same code as the in-process path
(``compute.inspect_bytes``). Actors ask for half a CPU (ray issue 44687) and are spread over
the nodes; Ray Data restarts an actor whose node dies, and re-runs its unfinished blocks.
"""

from __future__ import annotations

import itertools
import logging
import pickle
import warnings
from collections.abc import Iterable, Iterator
from typing import Any

from dure.scale.cluster import ACTOR_CPUS, RayEngine, ScaleUnavailable
from dure.scale.compute import Computed, ImageJob, inspect_bytes, load_inspector

# Images per call of an actor, and per block of the dataset: small, so that results stream
# back steadily and a lost node costs little work.
ACTOR_BATCH = 4
CHUNK = 1000  # images per Ray Data run (a batch job holds at most 500)
RUNS = 3  # runs of one batch on Ray before the job fails (it can then be sent again)
log = logging.getLogger(__name__)


class InspectActor:
    """A Ray Data actor: one loaded inspector, called with batches of images."""

    def __init__(self, model_ref: Any, threshold: float | None, threads: int = 1) -> None:
        import ray
        import torch

        torch.set_num_threads(threads)
        self.inspector = load_inspector(ray.get(model_ref[0]))
        self.threshold = threshold
        self.node_id = ray.get_runtime_context().get_node_id()

    def __call__(self, batch: dict[str, Any]) -> dict[str, list[Any]]:
        """Inspect each image of ``batch`` (columns key, name, data); the answers pickled."""
        keys, payloads = [], []
        for key, name, data in zip(batch["key"], batch["name"], batch["data"], strict=True):
            done = inspect_bytes(
                self.inspector,
                self.threshold,
                ImageJob(str(key), str(name), bytes(data)),
                self.node_id,
            )
            keys.append(str(key))
            payloads.append(pickle.dumps(done, protocol=pickle.HIGHEST_PROTOCOL))
        return {"key": keys, "payload": payloads}


def _run_once(
    ray: Any, size: int, model_ref: list[Any], threshold: float | None, rows: list[dict]
) -> Iterator[Computed]:
    blocks = max(1, min(len(rows) // ACTOR_BATCH, size * 8))
    context = ray.data.DataContext.get_current()
    # progress goes to the job's own report; Ray's bars would only fill the server's log
    context.enable_progress_bars = False
    context.print_on_execution_start = False
    with warnings.catch_warnings():
        # Ray 2.60 has no named parameter for the scheduling strategy yet: the remote
        # argument it deprecates is the only way to spread the actors over the nodes
        warnings.filterwarnings("ignore", message="`ray_remote_args` is deprecated")
        dataset = _pipeline(ray, size, model_ref, threshold, rows, blocks)
    for row in dataset.iter_rows():
        yield pickle.loads(row["payload"])


def _pipeline(
    ray: Any, size: int, model_ref: list[Any], threshold: float | None, rows: list, blocks: int
) -> Any:
    return ray.data.from_items(rows, override_num_blocks=blocks).map_batches(
        InspectActor,
        fn_constructor_kwargs={"model_ref": model_ref, "threshold": threshold},
        compute=ray.data.ActorPoolStrategy(size=size),
        num_cpus=ACTOR_CPUS,
        batch_size=ACTOR_BATCH,
        batch_format="numpy",
        scheduling_strategy="SPREAD",
    )


def inspect_over_ray(
    engine: RayEngine,
    model_tar: bytes,
    threshold: float | None,
    images: Iterable[ImageJob],
    chunk: int = CHUNK,
) -> Iterator[Computed]:
    """Inspect ``images`` on the cluster; yields each image's result as it comes back.

    The images are read from ``images`` ``chunk`` at a time (one Ray Data run each), so a
    long history never sits in memory whole. Ray Data restarts lost actors and re-runs
    their blocks by itself; when a run fails all the same (e.g. an object lost with its
    node), the images not yet answered are sent again, up to ``RUNS`` runs. A result may
    come twice: the caller keys results by ``Computed.key`` and writes each key once.
    """
    ray = engine.connect()
    source = iter(images)
    model_ref: list[Any] = []
    while rows := [
        {"key": i.key, "name": i.name, "data": i.data} for i in itertools.islice(source, chunk)
    ]:
        if not model_ref:
            # the list holding the reference keeps Ray from resolving it before the actor runs
            model_ref.append(ray.put(model_tar))
        yield from _with_retries(ray, engine, model_ref, threshold, rows)


def _with_retries(
    ray: Any, engine: RayEngine, model_ref: list[Any], threshold: float | None, rows: list[dict]
) -> Iterator[Computed]:
    answered: set[str] = set()
    for run in range(1, RUNS + 1):
        left = [r for r in rows if r["key"] not in answered]
        if not left:
            return
        size = max(1, min(engine.pool_size(), len(left)))
        try:
            for computed in _run_once(ray, size, model_ref, threshold, left):
                answered.add(computed.key)
                yield computed
            return
        except ray.exceptions.RayError as exc:
            if run == RUNS:
                raise ScaleUnavailable(
                    f"Ray failed {RUNS} times on this batch; last: {type(exc).__name__}"
                ) from exc
            log.warning("Ray run %d of a batch failed (%s); sending the rest again", run, exc)
