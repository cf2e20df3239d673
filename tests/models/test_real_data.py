"""Quality floors on the real data sets in ../shared/data (skipped when they are absent).

Small slices keep these to about a minute on two cores; the full protocols are
`dure bench vision --dataset magnetic-tile|neu-det`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from dure.bench.vision import split_magnetic_tile
from dure.ingest.image_folders import scan
from dure.models.vision.defect_types import DefectTypeClassifier
from dure.models.vision.metrics import image_auroc
from dure.models.vision.patchcore import PatchCore


def _grey(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("L"))


def test_neu_det_types_from_ten_images_each(shared_data: Path) -> None:
    items = scan(shared_data / "neu-det", "neu-det")
    rng = np.random.default_rng(0)
    train, test = [], []
    for label in sorted({i.label for i in items}):
        of_label = [items[k] for k in rng.permutation(len(items)) if items[k].label == label]
        train += of_label[:10]
        test += of_label[10:40]
    model = DefectTypeClassifier().fit([_grey(i.path) for i in train], [i.label for i in train])
    predicted = model.predict([_grey(i.path) for i in test])
    accuracy = np.mean([p == i.label for p, i in zip(predicted, test, strict=True)])
    assert accuracy >= 0.95, accuracy


def test_magnetic_tile_detector_separates_defects(shared_data: Path) -> None:
    split = split_magnetic_tile(scan(shared_data / "magnetic-tile", "magnetic-tile"), 0, None)
    pool, test = split.calibration + split.train, split.test  # the seeded 80 % in order
    rng = np.random.default_rng(0)
    good = [i for i in test if i.label == "good"][:60]
    bad = [test[k] for k in rng.permutation(len(test)) if test[k].label != "good"][:60]
    model = PatchCore(coreset_ratio=0.05).fit([_grey(i.path) for i in pool[:150]])
    scores = model.score([_grey(i.path) for i in good + bad]).image
    auroc = image_auroc(np.r_[np.zeros(len(good)), np.ones(len(bad))], scores)
    assert auroc >= 0.85, auroc
