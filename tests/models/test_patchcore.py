"""PatchCore on generated sheet metal: contract, save/load, thresholds, a quality floor."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dure.errors import NotFittedError
from dure.models.vision.metrics import aupro, image_auroc, pixel_auroc
from dure.models.vision.patchcore import PatchCore
from dure.services.demo.sheet_metal import DEFECT_TYPES, sheet_image

DEFECTS = [sheet_image(500 + k, DEFECT_TYPES[k % 5]) for k in range(15)]
GOOD_TEST = [sheet_image(400 + k, "good") for k in range(15)]
GOOD_TRAIN = [sheet_image(k, "good").pixels for k in range(16)]


@pytest.fixture(scope="module")
def fitted() -> PatchCore:
    return PatchCore(image_size=256, coreset_ratio=0.25).fit(GOOD_TRAIN)


def test_unfitted_detector_says_so() -> None:
    with pytest.raises(NotFittedError, match="fit"):
        PatchCore().score(GOOD_TRAIN[:1])


def test_quality_floor_on_generated_sheet_metal(fitted: PatchCore) -> None:
    scores = fitted.score([i.pixels for i in GOOD_TEST + DEFECTS])
    labels = np.array([0] * len(GOOD_TEST) + [1] * len(DEFECTS))
    masks = np.stack([i.mask for i in GOOD_TEST + DEFECTS])
    assert image_auroc(labels, scores.image) >= 0.9
    assert pixel_auroc(masks, scores.maps) >= 0.9
    assert aupro(masks, scores.maps) >= 0.5
    assert scores.maps.shape == (30, 256, 256)


def test_threshold_save_load_round_trip(fitted: PatchCore, tmp_path: Path) -> None:
    fitted.calibrate([i.pixels for i in GOOD_TEST], false_alarm_rate=0.1)
    assert fitted.threshold_.method == "false_alarm_rate"
    assert fitted.threshold_.expected_false_alarm_rate <= 0.1
    fitted.save(tmp_path / "m", extra={"part": "door panel"})
    again = PatchCore.load(tmp_path / "m")
    images = [i.pixels for i in DEFECTS[:3]]
    np.testing.assert_allclose(again.score(images).image, fitted.score(images).image, rtol=1e-6)
    assert (again.predict(images) == fitted.predict(images)).all()


def test_a_changed_memory_bank_is_refused(fitted: PatchCore, tmp_path: Path) -> None:
    fitted.save(tmp_path / "m")
    bank = np.load(tmp_path / "m" / "memory_bank.npy")
    np.save(tmp_path / "m" / "memory_bank.npy", bank + 1)
    with pytest.raises(ValueError, match="does not match its card"):
        PatchCore.load(tmp_path / "m")
