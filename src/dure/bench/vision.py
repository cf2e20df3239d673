"""`dure bench vision`: anomaly-detection quality and speed on magnetic-tile or an MVTec folder."""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from dure.bench.common import latency_ms, machine, peak_rss_mb, summarise
from dure.bench.vision_validation import PROTOCOL, choose_settings, scaled_mask
from dure.errors import InvalidInput
from dure.ingest.image_folders import FolderImage, scan
from dure.models.threshold import calibrate
from dure.models.vision.export import OnnxScorer, export_onnx
from dure.models.vision.metrics import aupro, f1_at, image_auroc, pixel_auroc
from dure.models.vision.patchcore import PatchCore

MIN_TRAIN_IMAGES = 4
CALIBRATION_SHARE = 0.2
MAX_CALIBRATION_IMAGES = 50


@dataclass(frozen=True)
class Split:
    """Images to teach from, to set the threshold on, and to test on, and how they were cut."""

    train: list[FolderImage]
    calibration: list[FolderImage]
    test: list[FolderImage]
    protocol: str


def _shuffled(items: list[FolderImage], seed: int) -> list[FolderImage]:
    order = np.random.default_rng(seed).permutation(len(items))
    return [items[i] for i in order]


def _carve(
    pool: list[FolderImage], shots: int | None, where: str
) -> tuple[list[FolderImage], list[FolderImage], str]:
    """Training and calibration images from a shuffled pool of good images.

    With ``shots`` the first ``shots`` teach and up to ``MAX_CALIBRATION_IMAGES`` of the
    rest set the threshold; without, a share of ``CALIBRATION_SHARE`` (at least one, at
    most ``MAX_CALIBRATION_IMAGES``) sets it and the rest teach.
    """
    if shots is not None:
        if shots < 1:
            raise InvalidInput("shots", "teach from at least one good image")
        if shots >= len(pool):
            raise InvalidInput(
                "shots",
                f"{where} holds {len(pool)} good images for training: --shots {shots} must "
                "leave at least one to set the threshold on",
            )
        train = pool[:shots]
        calibration = pool[shots:][:MAX_CALIBRATION_IMAGES]
        text = f"{shots} of them teach, {len(calibration)} others set the threshold"
    else:
        n_cal = min(max(round(CALIBRATION_SHARE * len(pool)), 1), MAX_CALIBRATION_IMAGES)
        calibration, train = pool[:n_cal], pool[n_cal:]
        text = (
            f"{len(train)} of them teach, {n_cal} ({CALIBRATION_SHARE:.0%}, at most "
            f"{MAX_CALIBRATION_IMAGES}) set the threshold"
        )
    if len(train) < MIN_TRAIN_IMAGES:
        raise InvalidInput(
            "data-root",
            f"{where} leaves {len(train)} good images to teach from; the bench needs at least "
            f"{MIN_TRAIN_IMAGES} (plus at least one to set the threshold on)",
        )
    return train, calibration, text


def split_magnetic_tile(items: list[FolderImage], seed: int, shots: int | None) -> Split:
    """80 % of MT_Free is the training pool; the other 20 % and every defect image test."""
    good = _shuffled([i for i in items if i.label == "good"], seed)
    bad = [i for i in items if i.label != "good"]
    cut = int(0.8 * len(good))
    train, calibration, text = _carve(good[:cut], shots, "magnetic-tile's MT_Free")
    return Split(
        train,
        calibration,
        good[cut:] + bad,
        f"seeded 80% of MT_Free ({cut} images) is the training pool: {text}; the test is the "
        f"other {len(good) - cut} good images and all {len(bad)} defect images",
    )


def split_folder(items: list[FolderImage], seed: int, shots: int | None, root: Path) -> Split:
    """An MVTec-layout folder: train/good is the pool; test/good and test/<defect> test."""
    pool = _shuffled([i for i in items if i.split == "train" and i.label == "good"], seed)
    test = [i for i in items if i.split == "test"]
    if not pool:
        raise InvalidInput("data-root", f"{root / 'train' / 'good'} holds no images")
    if not any(i.label == "good" for i in test):
        raise InvalidInput(
            "data-root", f"{root / 'test' / 'good'} holds no images: the test needs good parts"
        )
    defects = [i for i in test if i.label != "good"]
    if not defects:
        raise InvalidInput(
            "data-root", f"{root / 'test'} has no defect folders (test/<defect type>/*.png)"
        )
    train, calibration, text = _carve(pool, shots, f"{root / 'train' / 'good'}")
    masked = sum(1 for i in defects if i.mask_path is not None)
    return Split(
        train,
        calibration,
        test,
        f"train/good ({len(pool)} images, seeded order) is the training pool: {text}; the "
        f"test is test/ ({len(test) - len(defects)} good, {len(defects)} defect images, "
        f"{masked} of them with a ground_truth mask)",
    )


def split_for(dataset: str, root: Path, seed: int, shots: int | None) -> Split:
    """The seeded split of ``dataset`` (magnetic-tile, or any MVTec-layout folder)."""
    if dataset == "magnetic-tile":
        return split_magnetic_tile(scan(root, "magnetic-tile"), seed, shots)
    return split_folder(scan(root, "mvtec"), seed, shots, root)


def _pixel_figures(test: list[FolderImage], labels: np.ndarray, maps: np.ndarray) -> dict[str, Any]:
    """Pixel AUROC and AUPRO over the good test images and the defect images with masks."""
    keep = np.array([i.label == "good" or i.mask_path is not None for i in test])
    if not (keep & (labels == 1)).any():
        return {
            "pixel_auroc": None,
            "aupro": None,
            "pixel_metrics": "left out: no defect image has a ground_truth mask",
        }
    shape = (int(maps.shape[1]), int(maps.shape[2]))
    masks = np.stack([_mask(i, shape) for i, k in zip(test, keep, strict=True) if k])
    kept_maps, kept_labels = maps[keep], labels[keep]
    return {
        "pixel_auroc": pixel_auroc(masks, kept_maps),
        "aupro": aupro(masks[kept_labels == 1], kept_maps[kept_labels == 1]),
        "pixel_metrics": f"on {int((kept_labels == 1).sum())} defect images with masks and "
        f"{int((kept_labels == 0).sum())} good ones",
    }


def _load(item: FolderImage) -> np.ndarray:
    return np.asarray(Image.open(item.path).convert("RGB"))


def _mask(item: FolderImage, shape: tuple[int, int]) -> np.ndarray:
    """The item's defect mask at the model's map shape (height, width); none is all good."""
    if item.mask_path is None:
        return np.zeros(shape, bool)
    return scaled_mask(np.asarray(Image.open(item.mask_path).convert("L")) > 127, shape)


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
    dataset: str,
    root: Path,
    shots: int | None,
    seed: int,
    image_size: int,
    params: dict[str, Any],
    choose: bool = False,
) -> dict[str, Any]:
    """Train on good images, score the test split, and measure quality and speed.

    With ``choose`` the windows and blur are first chosen on validation data carved
    from the training pool (``vision_validation``); the test split is scored once, with
    the chosen settings.
    """
    split = split_for(dataset, root, seed, shots)
    train, calibration, test = split.train, split.calibration, split.test
    train_images = [_load(i) for i in train]
    calibration_images = [_load(i) for i in calibration]
    validation = None
    if choose:
        params, trials = choose_settings(train_images, calibration_images, seed, image_size, params)
        validation = {
            "chosen": {
                k: params[k]
                for k in ("neighbourhood", "map_stages", "map_neighbourhood", "blur_sigma")
            },
            "trials": trials,
        }
    model = PatchCore(image_size=image_size, random_state=seed, **params)
    started = time.perf_counter()
    model.fit(train_images)
    train_seconds = time.perf_counter() - started
    labels = np.array([0 if i.label == "good" else 1 for i in test])
    scores = model.score([_load(i) for i in test])
    threshold = calibrate(model.score(calibration_images).image) if calibration else None
    t50, t99 = _latency(model, _load(test[0]))
    with tempfile.TemporaryDirectory() as folder:
        onnx_model = OnnxScorer(export_onnx(model, Path(folder) / "m.onnx"), model.input_shape_)
        p50, p99 = _latency(onnx_model, _load(test[0]))
        onnx_rate = _throughput(onnx_model, [_load(i) for i in test[:32]])
    result = {
        "seed": seed,
        "train_images": len(train),
        "calibration_images": len(calibration),
        "test_images": len(test),
        "split": split.protocol,
        "image_auroc": image_auroc(labels, scores.image),
        **_pixel_figures(test, labels, scores.maps),
        "f1_at_threshold": f1_at(labels, scores.image, threshold.value) if threshold else None,
        "false_alarm_rate_at_threshold": (
            float(np.mean(scores.image[labels == 0] >= threshold.value)) if threshold else None
        ),
        "threshold": threshold.as_dict() if threshold else None,
        "train_seconds": train_seconds,
        "memory_bank": list(model.memory_bank_.shape),
        "input_shape": list(model.input_shape_),
        "neighbourhood": model.neighbourhood_,
        "latency_ms_p50": p50,
        "latency_ms_p99": p99,
        "torch_latency_ms_p50": t50,
        "torch_latency_ms_p99": t99,
        "throughput": onnx_rate,
        "torch_throughput": _throughput(model, [_load(i) for i in test[:32]]),
        "validation": validation,
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
    choose: bool = False,
) -> dict[str, Any]:
    """Run ``seeds`` seeds and summarise mean and sd of each figure.

    ``choose`` chooses the windows and blur per seed on validation data (see
    ``vision_validation``) instead of taking them from ``params`` or the defaults.
    """
    if dataset == "neu-det":
        from dure.bench.defect_types import run_defect_type_bench

        return run_defect_type_bench(root, shots, seeds, image_size)
    if dataset not in ("magnetic-tile", "folder"):
        raise InvalidInput("dataset", f"{dataset!r}: use magnetic-tile, neu-det or folder")
    root = Path(root) / "magnetic-tile" if dataset == "magnetic-tile" else Path(root)
    runs = [
        run_one(dataset, root, shots, seed, image_size, params or {}, choose)
        for seed in range(seeds)
    ]
    summary = summarise(
        runs,
        (
            "image_auroc",
            "pixel_auroc",
            "aupro",
            "f1_at_threshold",
            "false_alarm_rate_at_threshold",
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
            "split": runs[0]["split"] + " (seed 0; every seed shuffles the pool anew)",
            "threshold": "at 1% false alarms on the threshold images (good images of the "
            "training pool that taught nothing); F1 and the false-alarm rate are measured on "
            "the test images at that threshold",
            "pixel_metrics": runs[0]["pixel_metrics"],
            "chosen_on_test": "nothing: the split and threshold come from training images only",
            "validation": PROTOCOL
            if choose
            else "not run: the windows and blur are the defaults or those given (choose "
            "them on validation data with --choose)",
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
