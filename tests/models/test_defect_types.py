"""The defect-type classifier: learns from a few examples per type, saves and loads exactly."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dure.errors import InvalidInput, NotFittedError
from dure.models.vision.defect_types import DefectTypeClassifier
from dure.services.demo.sheet_metal import sheet_image

TYPES = ("scratch", "dent", "rust")


def _set(first_seed: int, per_type: int) -> tuple[list[np.ndarray], list[str]]:
    images, labels = [], []
    for k, label in enumerate(TYPES):
        for j in range(per_type):
            images.append(sheet_image(first_seed + 100 * k + j, label, 128).pixels)
            labels.append(label)
    return images, labels


@pytest.fixture(scope="module")
def taught() -> DefectTypeClassifier:
    images, labels = _set(1000, 5)
    return DefectTypeClassifier(image_size=128).fit(images, labels)


def test_names_unseen_defects_from_five_examples_each(taught: DefectTypeClassifier) -> None:
    images, labels = _set(5000, 6)
    predicted = taught.predict(images)
    accuracy = np.mean([p == t for p, t in zip(predicted, labels, strict=True)])
    assert accuracy >= 0.8, list(zip(predicted, labels, strict=True))
    proba = taught.predict_proba(images[:2])
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)
    assert taught.classes_ == sorted(TYPES)


def test_save_load_gives_the_same_probabilities(taught, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    taught.save(tmp_path / "c")
    again = DefectTypeClassifier.load(tmp_path / "c")
    images, _ = _set(7000, 1)
    np.testing.assert_allclose(again.predict_proba(images), taught.predict_proba(images), rtol=1e-5)
    np.save(tmp_path / "c" / "head_coef.npy", again.coef_ * 2)
    with pytest.raises(ValueError, match="does not match its card"):
        DefectTypeClassifier.load(tmp_path / "c")


def test_needs_two_types_and_matching_labels() -> None:
    images, labels = _set(8000, 1)
    with pytest.raises(InvalidInput, match="at least two types"):
        DefectTypeClassifier(image_size=128).fit(images[:1], labels[:1])
    with pytest.raises(InvalidInput, match="labels"):
        DefectTypeClassifier(image_size=128).fit(images, labels[:2])
    with pytest.raises(NotFittedError):
        DefectTypeClassifier().predict(images)
