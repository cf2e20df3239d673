"""Settings of the anomaly detector chosen on validation data carved from training images.

Nothing here sees a test image. The validation set is the training pool's held-out good
images (those that set the threshold, never taught) and the same images made defective
with synthetic scratches, spots, cut-and-paste scars and blends, each with its mask.
The image-score window is chosen first, on validation image AUROC; then the anomaly
map's window and blur, on validation AUPRO (pixel AUROC breaks ties).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from PIL import Image

from dure.models.vision.metrics import aupro, image_auroc, pixel_auroc
from dure.models.vision.patchcore import PatchCore
from dure.models.vision.synthetic import synthetic_defects

#: Averaging windows of the image score tried (cells of the feature grid).
IMAGE_WINDOWS = (3, 5, 9)
#: (map stages, map window, blur sigma in pixels) tried for the anomaly map; the first is
#: the default, tried along with the image windows.
MAP_SETTINGS: tuple[tuple[tuple[int, ...] | None, int, float], ...] = (
    ((3, 4), 1, 4.0),
    ((3, 4), 1, 2.0),
    ((3, 4), 3, 4.0),
    (None, 3, 4.0),
    (None, 1, 4.0),
)
MIN_VALIDATION_IMAGES = 4

PROTOCOL = (
    "settings chosen per seed on validation data carved from the training pool: its "
    "held-out good images (those that set the threshold) and the same images with one "
    "synthetic defect each (scratch, spot, cut-and-paste, blend; seeded), masks included. "
    f"Image window from {list(IMAGE_WINDOWS)} on validation image AUROC (ties: the "
    "smaller); then (map stages (None: the image's), map window, blur sigma) from "
    f"{[[m, w, b] for m, w, b in MAP_SETTINGS]} on validation AUPRO (ties: pixel AUROC). "
    "No test image is seen."
)


def scaled_mask(mask: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """A boolean defect mask scaled (nearest pixel) to a map shape (height, width)."""
    small = Image.fromarray(np.asarray(mask, np.uint8) * 255).resize(
        (shape[1], shape[0]), Image.NEAREST
    )
    return np.asarray(small) > 127


def validation_figures(
    model: PatchCore, good: Sequence[np.ndarray], defects: Sequence[Any]
) -> dict[str, float]:
    """Image AUROC, pixel AUROC and AUPRO of a fitted model on good and synthetic images."""
    scores = model.score([*good, *(d.pixels for d in defects)])
    labels = np.array([0] * len(good) + [1] * len(defects))
    shape = (int(scores.maps.shape[1]), int(scores.maps.shape[2]))
    masks = np.concatenate(
        [
            np.zeros((len(good), *shape), bool),
            np.stack([scaled_mask(d.mask, shape) for d in defects]),
        ]
    )
    has_region = masks[len(good) :].reshape(len(defects), -1).any(axis=1)
    defect_maps = scores.maps[len(good) :][has_region]
    return {
        "image_auroc": image_auroc(labels, scores.image),
        "pixel_auroc": pixel_auroc(masks, scores.maps),
        "aupro": aupro(masks[len(good) :][has_region], defect_maps)
        if has_region.any()
        else float("nan"),
    }


def choose_settings(
    train: Sequence[np.ndarray],
    validation_good: Sequence[np.ndarray],
    seed: int,
    image_size: int,
    base: dict[str, Any],
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The chosen parameters (``base`` plus the chosen windows and blur) and every trial.

    Each trial is a dict of its settings, stage ("image" or "map") and validation figures.
    """
    if len(validation_good) < MIN_VALIDATION_IMAGES:
        raise ValueError(
            f"choosing settings needs at least {MIN_VALIDATION_IMAGES} held-out good images; "
            f"the training pool left {len(validation_good)}"
        )
    defects = synthetic_defects(validation_good, seed)
    trials: list[dict[str, Any]] = []

    def trial(stage: str, params: dict[str, Any]) -> dict[str, Any]:
        model = PatchCore(image_size=image_size, random_state=seed, **params).fit(train)
        row = {
            "stage": stage,
            "neighbourhood": params["neighbourhood"],
            "map_stages": params["map_stages"],
            "map_neighbourhood": params["map_neighbourhood"],
            "blur_sigma": params["blur_sigma"],
            **validation_figures(model, validation_good, defects),
        }
        trials.append(row)
        return row

    first_stages, first_window, first_sigma = MAP_SETTINGS[0]
    start = {
        **base,
        "map_stages": first_stages,
        "map_neighbourhood": first_window,
        "blur_sigma": first_sigma,
    }
    image_rows = [trial("image", {**start, "neighbourhood": w}) for w in IMAGE_WINDOWS]
    best_image = max(image_rows, key=lambda r: (round(r["image_auroc"], 4), -r["neighbourhood"]))
    chosen = {**start, "neighbourhood": best_image["neighbourhood"]}
    map_rows = [best_image]  # already tried with the first map settings
    for stages, window, sigma in MAP_SETTINGS[1:]:
        settings = {"map_stages": stages, "map_neighbourhood": window, "blur_sigma": sigma}
        map_rows.append(trial("map", {**chosen, **settings}))
    best_map = max(
        map_rows,
        key=lambda r: (np.nan_to_num(r["aupro"], nan=-1.0), r["pixel_auroc"]),
    )
    chosen.update(
        map_stages=best_map["map_stages"],
        map_neighbourhood=best_map["map_neighbourhood"],
        blur_sigma=best_map["blur_sigma"],
    )
    return chosen, trials
