"""Batch inspection over Ray Data: a pool of actors holding the model, results streamed back.

The driver (a Dure job thread) hands in the images' bytes and gets one ``Computed`` per
image as soon as it is done, in no particular order; it alone writes to the store. Each
actor loads the model once from the stored model blob (put in Ray's object store once per
batch) and inspects image by image with the same code as the in-process path
(``compute.inspect_bytes``). Actors ask for half a CPU (ray issue 44687).

Two things Ray does not promise are made certain here, so that every node of the cluster
takes part: where the actors go (``SPREAD`` is best effort: two half-CPU actors may share one
node), so each actor is pinned softly to the node with the fewest actors per CPU
(``ActorPlacement``); and who gets the first images (Ray Data feeds whichever actor is up
first, so a slow-starting one may get nothing), so the images are handed out only once the
whole pool is up (``ACTOR_START_S``). Ray Data restarts an actor whose node dies (on another
node: the pin is soft), and re-runs its unfinished blocks.
"""

from __future__ import annotations

import itertools
import logging
import pickle
import warnings
from collections import Counter
from collections.abc import Iterable, Iterator
from typing import Any

from dure.scale.cluster import ACTOR_CPUS, RayEngine, ScaleUnavailable
from dure.scale.compute import Computed, ImageJob, inspect_bytes, load_inspector

# Images per call of an actor, and per block of the dataset: small, so that results stream
# back steadily and a lost node costs little work.
ACTOR_BATCH = 4
CHUNK = 1000  # images per Ray Data run (a batch job holds at most 500)
RUNS = 3  # runs of one batch on Ray before the job fails (it can then be sent again)
# Seconds a run waits for its whole actor pool to be up before handing out images; a pool
# that cannot start by then fails the run (retried up to RUNS times, then the job fails).
ACTOR_START_S = 300
log = logging.getLogger(__name__)


class ActorPlacement:
    """Ray Data's ``ray_remote_args_fn`` for a pool: each new actor is pinned (softly) to the
    node with the fewest actors per CPU so far, ties by node id, so the pool is spread over
    the nodes in proportion to their CPUs, the same way every time. Soft: an actor whose node
    died is restarted on another one."""

    def __init__(self, node_cpus: dict[str, float]) -> None:
        self.node_cpus = node_cpus
        self.actors: Counter[str] = Counter()

    @classmethod
    def of_cluster(cls, ray: Any) -> ActorPlacement:
        """The placement over the cluster's live nodes that can hold an actor (not a head
        without CPUs)."""
        return cls(
            {
                node["NodeID"]: float(node["Resources"].get("CPU", 0))
                for node in ray.nodes()
                if node["Alive"] and node["Resources"].get("CPU", 0) >= ACTOR_CPUS
            }
        )

    def __call__(self) -> dict[str, Any]:
        """The remote arguments of the next actor."""
        if not self.node_cpus:
            return {"scheduling_strategy": "SPREAD"}
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        node = min(self.node_cpus, key=lambda n: (self.actors[n] / self.node_cpus[n], n))
        self.actors[node] += 1
        return {"scheduling_strategy": NodeAffinitySchedulingStrategy(node, soft=True)}


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
    # hand out images only once every actor is up, so that each one gets its share
    context.wait_for_min_actors_s = ACTOR_START_S
    with warnings.catch_warnings():
        # Ray 2.60 has no other way to place each actor of a pool (``label_selector`` holds
        # for the whole pool): its per-actor remote arguments, deprecated, removed in 2.64
        warnings.filterwarnings("ignore", message="`ray_remote_args_fn` is deprecated")
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
        ray_remote_args_fn=ActorPlacement.of_cluster(ray),
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
