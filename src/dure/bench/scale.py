"""`dure bench scale`: what Ray costs and gives for batch inspection on this machine.

A small inspector is taught on synthetic sheet-metal images; a batch of ``images`` is then
inspected (1) in process, image by image, as a batch job without Ray does, and (2) over Ray
Data on a local cluster of 1 and of 2 one-CPU worker nodes (``ray.cluster_utils.Cluster``,
a head with no CPUs). Each run reports images/s, the CPU seconds of the whole process tree
(this process, Ray's daemons and workers: ``/proc``), and whether every image's verdict,
score, type and heat-map equal the in-process ones. The summary holds Ray's fixed costs:
the seconds to start a 1-node cluster and connect, the memory (PSS) of Ray's processes idle
after that, the per-batch overhead (a 2-image batch, after a first one has started Ray's
worker processes), and the crossover: the batch size
above which Ray on 2 nodes is faster than in process, from these measurements.

``workers`` (a many-core machine): also one node with that many CPUs and as many actors.
A ``simulated_scaling`` curve (fixed overhead + n x per-image time / workers) is written
only when asked, and labelled as simulated.
"""

from __future__ import annotations

import io
import math
import os
import time
from typing import Any

import numpy as np
from PIL import Image

from dure.bench.common import machine
from dure.models.vision.inspector import Inspector, TeachingSet
from dure.scale.batch import inspect_over_ray
from dure.scale.cluster import RayEngine
from dure.scale.compute import Computed, ImageJob, inspect_bytes, load_inspector
from dure.scale.cpu import tree_cpu_seconds, tree_pss_mb
from dure.services.demo.sheet_metal import sheet_image
from dure.services.platform.model_files import model_bytes

SIZE = 128
LABELS = ["good", "good", "scratch", "good", "dent", "good", "good", "good"]
SIMULATED_LABEL = "simulated from measured per-image cost and fixed overhead, not measured"


def _png(pixels: np.ndarray) -> bytes:
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="PNG")
    return out.getvalue()


def _teach() -> bytes:
    """A small taught inspector (as the service tests' FAST settings), packed as stored."""
    px = lambda seed, label: sheet_image(seed, label, SIZE).pixels  # noqa: E731
    defects = [(s, lab) for lab in ("scratch", "dent") for s in range(300, 303)]
    data = TeachingSet(
        good=[px(k, "good") for k in range(12)],
        held_out_good=[px(100 + k, "good") for k in range(5)],
        defects=[px(s, lab) for s, lab in defects],
        defect_labels=[lab for _, lab in defects],
    )
    return model_bytes(Inspector({"image_size": SIZE, "coreset_ratio": 0.25}).fit(data))


def _images(n: int, first: int = 5000) -> list[ImageJob]:
    return [
        ImageJob(
            f"bench:{k}", f"p{k}.png", _png(sheet_image(first + k, LABELS[k % 8], SIZE).pixels)
        )
        for k in range(n)
    ]


def _same(a: Computed, b: Computed) -> bool:
    if a.finding is None or b.finding is None:
        return a.refused == b.refused
    fa, fb = a.finding, b.finding
    return (fa.is_defect, fa.score, fa.defect_type) == (
        fb.is_defect,
        fb.score,
        fb.defect_type,
    ) and a.heatmap == b.heatmap


def _timed(run: Any) -> tuple[Any, float, float]:
    cpu, wall = tree_cpu_seconds(), time.perf_counter()
    out = run()
    return out, time.perf_counter() - wall, tree_cpu_seconds() - cpu


def _ray_runs(
    model: bytes,
    images: list[ImageJob],
    local: dict[str, Computed],
    nodes: int,
    cpus_per_node: int,
    summary: dict[str, Any],
) -> dict[str, Any]:
    from dure.scale.local import local_cluster

    started = time.perf_counter()
    with local_cluster(nodes=nodes, cpus_per_node=cpus_per_node) as cluster:
        start_s = time.perf_counter() - started
        time.sleep(2.0)  # idle: let the daemons settle before the memory is read
        memory = tree_pss_mb()
        engine = RayEngine(cluster.address, workers=nodes * cpus_per_node)
        list(inspect_over_ray(engine, model, None, images[:2]))  # first workers start
        _, warm_s, _ = _timed(lambda: list(inspect_over_ray(engine, model, None, images[:2])))
        done, wall, cpu = _timed(lambda: list(inspect_over_ray(engine, model, None, images)))
        by_node: dict[str, int] = {}
        for c in done:
            by_node[c.node_id] = by_node.get(c.node_id, 0) + 1
    if "ray_start_seconds" not in summary:
        summary["ray_start_seconds"] = round(start_s, 2)
        summary["ray_memory_mb"] = round(memory, 1)
    summary.setdefault("ray_batch_overhead_seconds", {})[f"{nodes}x{cpus_per_node}"] = round(
        warm_s, 2
    )
    answers = {c.key: c for c in done}
    return {
        "runner": "ray",
        "nodes": nodes,
        "workers": nodes * cpus_per_node,
        "images": len(images),
        "seconds": round(wall, 2),
        "images_per_s": round(len(images) / wall, 2),
        "cpu_seconds": round(cpu, 2),
        "identical_to_local": len(answers) == len(local)
        and all(_same(answers[k], local[k]) for k in local),
        "images_by_node": sorted(by_node.values(), reverse=True),
        "batch_overhead_seconds": round(warm_s, 2),
    }


def _crossover(per_image_local: float, ray_run: dict[str, Any]) -> int | None:
    """The smallest batch Ray finishes sooner than the in-process loop, from a measured Ray
    run: ray(n) = overhead + n / its steady rate, local(n) = n x per-image time."""
    overhead = ray_run["batch_overhead_seconds"]
    per_image_ray = max(ray_run["seconds"] - overhead, 1e-9) / ray_run["images"]
    gain = per_image_local - per_image_ray
    if gain <= 0:
        return None  # never, on this machine
    return math.ceil(overhead / gain)


def run_scale_bench(
    images: int,
    node_counts: tuple[int, ...] = (1, 2),
    workers: tuple[int, ...] = (),
    simulate_to: int | None = None,
) -> dict[str, Any]:
    """Measure in-process and Ray batch inspection of ``images`` synthetic images."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    model = _teach()
    batch = _images(images)
    inspector = load_inspector(model)
    inspect_bytes(inspector, None, batch[0], "local")  # warm-up, as the actors do
    done, wall, cpu = _timed(lambda: [inspect_bytes(inspector, None, i, "local") for i in batch])
    local = {c.key: c for c in done}
    per_image = wall / images
    summary: dict[str, Any] = {
        "cpu_count": os.cpu_count(),
        "per_image_ms_local": round(per_image * 1000, 2),
    }
    runs = [
        {
            "runner": "local",
            "nodes": 1,
            "workers": 1,
            "images": images,
            "seconds": round(wall, 2),
            "images_per_s": round(images / wall, 2),
            "cpu_seconds": round(cpu, 2),
            "identical_to_local": True,
        }
    ]
    for nodes in node_counts:
        runs.append(_ray_runs(model, batch, local, nodes, 1, summary))
    for count in workers:
        runs.append(_ray_runs(model, batch, local, 1, count, summary))
    widest = max(
        (r for r in runs if r["runner"] == "ray"), key=lambda r: r["workers"], default=None
    )
    summary["crossover_images"] = _crossover(per_image, widest) if widest else None
    summary["ray_min_images_note"] = (
        "DURE_RAY_MIN_IMAGES: batches at least this large go to Ray; set it near "
        "crossover_images measured on the cluster's own machines"
    )
    result: dict[str, Any] = {"summary": summary, "runs": runs, "machine": machine()}
    if simulate_to and widest:
        overhead = widest["batch_overhead_seconds"]
        result["simulated_scaling"] = {
            "label": SIMULATED_LABEL,
            "points": [
                {
                    "workers": w,
                    "images_per_s": round(images / (overhead + images * per_image / w), 2),
                }
                for w in (1, 2, 4, 8, 16)
                if w <= simulate_to
            ],
        }
    return result
