"""The inspector: teach, decide, name the type, save to a folder and load it back (ONNX)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dure.models.registry import load_model
from dure.models.vision.inspector import Inspector, TeachingSet
from dure.services.demo.sheet_metal import sheet_image

SIZE = 128


def _px(seed: int, label: str) -> np.ndarray:
    return sheet_image(seed, label, SIZE).pixels


@pytest.fixture(scope="module")
def inspector() -> Inspector:
    defects = [(s, lab) for lab in ("scratch", "rust") for s in range(300, 303)]
    data = TeachingSet(
        good=[_px(k, "good") for k in range(10)],
        held_out_good=[_px(100 + k, "good") for k in range(5)],
        defects=[_px(s + (0 if lab == "scratch" else 50), lab) for s, lab in defects],
        defect_labels=[lab for _, lab in defects],
    )
    steps: list[str] = []
    taught = Inspector({"image_size": SIZE, "coreset_ratio": 0.25}).fit(
        data, progress=lambda p, s: steps.append(s)
    )
    assert "memory bank ready" in steps and "teaching 2 defect types" in steps
    return taught


def test_findings_carry_verdict_type_and_heatmap(inspector: Inspector) -> None:
    good, rust = inspector.inspect([_px(700, "good"), _px(701, "rust")])
    assert not good.is_defect and good.defect_type is None
    assert rust.is_defect and rust.defect_type == "rust" and rust.type_confidence > 0.5
    assert rust.heatmap.shape == (SIZE, SIZE) and rust.heatmap.max() >= 1.0
    assert inspector.report_["threshold"]["method"] == "best_f1"


def test_saved_inspector_scores_the_same_through_onnx(inspector: Inspector, tmp_path: Path) -> None:
    images = [_px(710, "good"), _px(711, "scratch")]
    torch_scores = inspector.detector_.score(images)
    inspector.save(tmp_path / "i")
    again = load_model(tmp_path / "i")
    assert isinstance(again, Inspector) and again.classifier_ is not None
    assert (tmp_path / "i" / "scoring.onnx").is_file()
    onnx_scores = again.score(images)
    np.testing.assert_allclose(onnx_scores.image, torch_scores.image, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(onnx_scores.maps, torch_scores.maps, rtol=1e-4, atol=1e-4)
    assert [f.defect_type for f in again.inspect(images)] == [
        f.defect_type for f in inspector.inspect(images)
    ]


def test_teaching_without_held_out_images_is_refused() -> None:
    with pytest.raises(ValueError, match="held-out"):
        Inspector({"image_size": SIZE}).fit(TeachingSet([_px(1, "good")], [], [], []))


def test_a_thin_scratch_is_outlined_where_it_is_not_buried_in_a_blob() -> None:
    """The map comes from shallow stages on a stride-8 grid and is read against the level
    held-out good maps stay under: a 1–2 px scratch gets a region hugging it."""
    size = 256
    data = TeachingSet(
        good=[sheet_image(k, "good", size).pixels for k in range(40)],
        held_out_good=[sheet_image(100 + k, "good", size).pixels for k in range(12)],
        defects=[],
        defect_labels=[],
    )
    taught = Inspector({"image_size": size, "coreset_ratio": 0.25}).fit(data)
    assert taught.report_["map_level"] > 0
    for seed in (2000, 2002, 2003):
        made = sheet_image(seed, "scratch", size)
        (finding,) = taught.inspect([made.pixels])
        marked = finding.heatmap >= 1.0
        assert finding.is_defect and finding.regions
        assert (marked & made.mask).sum() >= 0.8 * made.mask.sum(), "the scratch is not marked"
        assert marked.mean() <= 0.12, f"{marked.mean():.1%} of the part painted for a scratch"
        biggest = finding.regions[0]
        x0, y0, x1, y1 = biggest.box
        ys, xs = np.nonzero(made.mask)
        assert x0 <= xs.mean() <= x1 and y0 <= ys.mean() <= y1
    (good,) = taught.inspect([sheet_image(777, "good", size).pixels])
    assert not good.is_defect and not good.regions
