"""`dure bench vision`: anomaly-detection quality and speed on magnetic-tile or an MVTec folder."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from dure.bench.common import latency_ms, machine, peak_rss_mb, summarise
from dure.errors import InvalidInput
from dure.ingest.image_folders import FolderImage, scan
from dure.models.threshold import calibrate
from dure.models.vision.export import OnnxScorer, export_onnx
from dure.models.vision.metrics import aupro, f1_at, image_auroc, pixel_auroc
from dure.models.vision.patchcore import PatchCore

CALIBRATION_IMAGES = 50


def _split_magnetic_tile(items: list[FolderImage], seed: int) -> tuple[list, list]:
    good = [i for i in items if i.label == "good"]
    bad = [i for i in items if i.label != "good"]
    order = np.random.default_rng(seed).permutation(len(good))
    cut = int(0.8 * len(good))
    pool = [good[i] for i in order[:cut]]
    test = [good[i] for i in order[cut:]] + bad
    return pool, test


def _split_folder(items: list[FolderImage], seed: int) -> tuple[list, list]:
    pool = [i for i in items if i.split == "train"]
    order = np.random.default_rng(seed).permutation(len(pool))
    return [pool[i] for i in order], [i for i in items if i.split == "test"]


def _load(item: FolderImage) -> np.ndarray:
    return np.asarray(Image.open(item.path).convert("RGB"))


def _mask(item: FolderImage, size: int) -> np.ndarray:
    if item.mask_path is None:
        return np.zeros((size, size), bool)
    mask = Image.open(item.mask_path).convert("L").resize((size, size), Image.NEAREST)
    return np.asarray(mask) > 127


def _latency(model: Any, image: np.ndarray, repeats: int = 30) -> tuple[float, float]:
    return latency_ms(lambda: model.score([image]), repeats)


def _throughput(model: Any, images: list[np.ndarray]) -> dict[str, float]:
    """Best images/s over batch sizes 1, 8 and 32 (32 images each)."""
    best: dict[str, float] = {"batch": 1, "images_per_s": 0.0}
    sample = (images * (32 // max(len(images), 1) + 1))[:32]
    for batch in (1, 8, 32):
        start = time.perf_counter()
        for first in range(0, len(sample), batch):
            model.score(sample[first : first + batch])
        rate = len(sample) / (time.perf_counter() - start)
        if rate > best["images_per_s"]:
            best = {"batch": batch, "images_per_s": rate}
    return best


def run_one(
    dataset: str, root: Path, shots: int | None, seed: int, image_size: int, params: dict[str, Any]
) -> dict[str, Any]:
    """Train on good images, score the test split, and measure quality and speed."""
    items = scan(root, "magnetic-tile" if dataset == "magnetic-tile" else "mvtec")
    splitter: Callable = _split_magnetic_tile if dataset == "magnetic-tile" else _split_folder
    pool, test = splitter(items, seed)
    train = pool[:shots] if shots else pool[: len(pool) - CALIBRATION_IMAGES]
    calibration = pool[len(train) :][:CALIBRATION_IMAGES]
    model = PatchCore(image_size=image_size, random_state=seed, **params)
    started = time.perf_counter()
    model.fit([_load(i) for i in train])
    train_seconds = time.perf_counter() - started
    labels = np.array([0 if i.label == "good" else 1 for i in test])
    scores = model.score([_load(i) for i in test])
    masks = np.stack([_mask(i, image_size) for i in test])
    threshold = (
        calibrate(model.score([_load(i) for i in calibration]).image) if calibration else None
    )
    t50, t99 = _latency(model, _load(test[0]))
    with tempfile.TemporaryDirectory() as folder:
        onnx_model = OnnxScorer(export_onnx(model, Path(folder) / "m.onnx"), image_size)
        p50, p99 = _latency(onnx_model, _load(test[0]))
        onnx_rate = _throughput(onnx_model, [_load(i) for i in test[:32]])
    result = {
        "seed": seed,
        "train_images": len(train),
        "test_images": len(test),
        "image_auroc": image_auroc(labels, scores.image),
        "pixel_auroc": pixel_auroc(masks, scores.maps),
        "aupro": aupro(masks[labels == 1], scores.maps[labels == 1]) if masks.any() else None,
        "f1_at_threshold": f1_at(labels, scores.image, threshold.value) if threshold else None,
        "threshold": threshold.as_dict() if threshold else None,
        "train_seconds": train_seconds,
        "memory_bank": list(model.memory_bank_.shape),
        "neighbourhood": model.neighbourhood_,
        "latency_ms_p50": p50,
        "latency_ms_p99": p99,
        "torch_latency_ms_p50": t50,
        "torch_latency_ms_p99": t99,
        "throughput": onnx_rate,
        "torch_throughput": _throughput(model, [_load(i) for i in test[:32]]),
    }
    result["throughput_images_per_s"] = result["throughput"]["images_per_s"]
    return result


def run_vision_bench(
    dataset: str,
    root: Path,
    shots: int | None,
    seeds: int,
    image_size: int,
    params: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Run ``seeds`` seeds and summarise mean and sd of each figure."""
    if dataset == "neu-det":
        from dure.bench.defect_types import run_defect_type_bench

        return run_defect_type_bench(root, shots, seeds, image_size)
    if dataset not in ("magnetic-tile", "folder"):
        raise InvalidInput("dataset", f"{dataset!r}: use magnetic-tile, neu-det or folder")
    root = Path(root) / "magnetic-tile" if dataset == "magnetic-tile" else Path(root)
    runs = [run_one(dataset, root, shots, seed, image_size, params or {}) for seed in range(seeds)]
    summary = summarise(
        runs,
        (
            "image_auroc",
            "pixel_auroc",
            "aupro",
            "f1_at_threshold",
            "train_seconds",
            "latency_ms_p50",
            "latency_ms_p99",
            "throughput_images_per_s",
            "torch_latency_ms_p50",
        ),
    )
    return {
        "benchmark": "vision",
        "dataset": dataset,
        "protocol": {
            "split": "seeded 80% of good images for training (magnetic-tile: MT_Free), test on "
            "the other 20% plus every defect image; threshold at 1% false alarms on "
            f"up to {CALIBRATION_IMAGES} unused training-pool images",
            "shots": shots or "all",
            "seeds": list(range(seeds)),
            "image_size": image_size,
            "model": {
                "name": "patchcore",
                "backbone": "efficientnet-lite0 (ImageNet)",
                **(params or {}),
            },
        },
        "summary": summary,
        "runs": runs,
        "peak_rss_mb": peak_rss_mb(),
        "machine": machine(),
    }
