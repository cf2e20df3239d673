"""`dure bench vision --dataset neu-det`: defect-type accuracy, 5-fold or few images per class."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from sklearn.metrics import confusion_matrix, f1_score
from sklearn.model_selection import StratifiedKFold

from dure.bench.common import latency_ms, machine, peak_rss_mb, summarise
from dure.ingest.image_folders import scan
from dure.models.vision.defect_types import DefectTypeClassifier


def _splits(y: np.ndarray, shots: int | None, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    if shots is None:
        folds = StratifiedKFold(5, shuffle=True, random_state=seed)
        return list(folds.split(np.zeros(len(y)), y))
    rng = np.random.default_rng(seed)
    train = np.concatenate(
        [rng.choice(np.flatnonzero(y == k), shots, replace=False) for k in np.unique(y)]
    )
    return [(train, np.setdiff1d(np.arange(len(y)), train))]


def run_defect_type_bench(
    root: Path,
    shots: int | None,
    seeds: int,
    image_size: int = 224,
    params: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Accuracy of the defect-type classifier on NEU-DET (all 1,800 images, six classes).

    Every image is embedded once (with its mirrors); each fold or seed then teaches a head
    on its training rows and is scored on the rest. ``train_seconds`` of a run is the
    embedding time of its training images plus fitting the head.
    """
    items = scan(Path(root) / "neu-det", "neu-det")
    images = [np.asarray(Image.open(i.path).convert("L")) for i in items]
    classes = sorted({i.label for i in items})
    y = np.array([classes.index(i.label) for i in items])
    model = DefectTypeClassifier(image_size=image_size, **(params or {}))
    started = time.perf_counter()
    views = model.embed_views(images)
    per_image = (time.perf_counter() - started) / len(images)
    runs = []
    for seed in range(seeds):
        for fold, (train, test) in enumerate(_splits(y, shots, seed)):
            started = time.perf_counter()
            model.fit_embedded(views[:, train], [classes[k] for k in y[train]])
            fit = time.perf_counter() - started
            pred = model.proba_embedded(views[:, test]).argmax(axis=1)
            truth = np.array([model.classes_.index(classes[k]) for k in y[test]])
            runs.append(
                {
                    "seed": seed,
                    "fold": fold,
                    "train_images": int(len(train)),
                    "test_images": int(len(test)),
                    "accuracy": float(np.mean(pred == truth)),
                    "macro_f1": float(f1_score(truth, pred, average="macro")),
                    "train_seconds": per_image * len(train) + fit,
                    "confusion": confusion_matrix(truth, pred).tolist(),
                }
            )
    p50, p99 = latency_ms(lambda: model.predict([images[0]]), 20)
    start = time.perf_counter()
    model.predict(images[:32])
    throughput = 32 / (time.perf_counter() - start)
    summary = summarise(runs, ("accuracy", "macro_f1", "train_seconds"))
    summary["latency_ms_p50"] = {"mean": p50, "sd": 0.0}
    summary["latency_ms_p99"] = {"mean": p99, "sd": 0.0}
    summary["throughput_images_per_s"] = {"mean": throughput, "sd": 0.0}
    return {
        "benchmark": "vision",
        "dataset": "neu-det",
        "protocol": {
            "split": "stratified 5-fold over all 1,800 images"
            if shots is None
            else f"{shots} training images per class, the rest for testing",
            "shots": shots or "all",
            "seeds": list(range(seeds)),
            "image_size": image_size,
            "classes": classes,
            "model": {
                "name": "defect-types",
                "head": "logistic regression on mean+spread of EfficientNet-Lite stages",
                "stages": list(model.stages),
                "regularisation": model.regularisation,
                "flip_augment": model.flip_augment,
            },
            "latency": "torch, one image with its two mirrors, batch 1",
        },
        "summary": summary,
        "runs": runs,
        "peak_rss_mb": peak_rss_mb(),
        "machine": machine(),
    }
