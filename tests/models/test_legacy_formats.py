"""Inspection models saved before the model contract (format 1) still load and score the same:
installs that upgrade keep using the models they trained and the packages they imported."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from dure.errors import ModelFileError
from dure.models.registry import load_model
from dure.models.vision.cards import digest
from dure.models.vision.defect_types import DefectTypeClassifier
from dure.models.vision.inspector import Inspector, TeachingSet
from dure.models.vision.patchcore import PatchCore
from dure.services.demo.sheet_metal import sheet_image

SIZE = 64


def _px(seed: int, label: str = "good") -> np.ndarray:
    return sheet_image(seed, label, SIZE).pixels


def _write_legacy_detector(model: PatchCore, folder: Path) -> None:
    folder.mkdir(parents=True)
    np.save(folder / "memory_bank.npy", model.memory_bank_)
    params = {**model.get_params(), "neighbourhood": model.neighbourhood_}
    params["map_neighbourhood"] = None  # format 1 kept one bank when the windows matched
    card = {
        "model": "patchcore",
        "format_version": 1,
        "params": {k: list(v) if isinstance(v, tuple) else v for k, v in params.items()},
        "grid": list(model.grid_),
        "image_spec": model.image_spec_.as_dict(),
        "threshold": model.threshold_.as_dict(),
        "memory_bank_sha256": digest(model.memory_bank_),
        "map_bank_sha256": None,
    }
    (folder / "card.json").write_text(json.dumps(card))


def _write_legacy_head(head: DefectTypeClassifier, folder: Path) -> None:
    folder.mkdir(parents=True)
    np.save(folder / "head_coef.npy", head.coef_)
    np.save(folder / "head_intercept.npy", head.intercept_)
    card = {
        "model": "defect-types",
        "format_version": 1,
        "params": {k: list(v) if isinstance(v, tuple) else v for k, v in head.get_params().items()},
        "classes": head.classes_,
        "head_sha256": digest(head.coef_, head.intercept_),
    }
    (folder / "card.json").write_text(json.dumps(card))


@pytest.fixture(scope="module")
def taught() -> Inspector:
    labels = ["scratch", "scratch", "rust", "rust"]
    data = TeachingSet(
        good=[_px(k) for k in range(4)],
        held_out_good=[_px(10 + k) for k in range(3)],
        defects=[_px(20 + k, lab) for k, lab in enumerate(labels)],
        defect_labels=labels,
    )
    params = {"image_size": SIZE, "coreset_ratio": 0.5, "map_neighbourhood": None}
    return Inspector(params).fit(data)


def test_a_format_1_inspector_folder_loads_and_scores_the_same(
    taught: Inspector, tmp_path: Path
) -> None:
    folder = tmp_path / "legacy"
    _write_legacy_detector(taught.detector_, folder / "detector")
    (folder / "detector" / "scoring.onnx").write_bytes(taught.graph_)
    assert taught.classifier_ is not None
    _write_legacy_head(taught.classifier_, folder / "defect_types")
    card = {"format": "dure-inspector", "format_version": 1, **taught.report_}
    (folder / "card.json").write_text(json.dumps(card))

    again = load_model(folder)
    assert isinstance(again, Inspector)
    images = [_px(30), _px(31, "rust")]
    np.testing.assert_allclose(again.score(images).image, taught.score(images).image, rtol=1e-6)
    assert again.threshold == taught.threshold
    assert [f.defect_type for f in again.inspect(images)] == [
        f.defect_type for f in taught.inspect(images)
    ]
    assert again.report_["teaching"] == taught.report_["teaching"]
    # saved again, it is a current-format folder
    assert load_model(again.save(tmp_path / "current")).get_params() == again.get_params()


def test_a_changed_format_1_bank_is_refused(taught: Inspector, tmp_path: Path) -> None:
    folder = tmp_path / "legacy-detector"
    _write_legacy_detector(taught.detector_, folder)
    np.save(folder / "memory_bank.npy", taught.detector_.memory_bank_ + 1)
    with pytest.raises(ModelFileError, match="does not match its card"):
        load_model(folder)
