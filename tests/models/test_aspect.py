"""Long parts keep their shape end to end: the model takes them in their own aspect, its
maps come back in it, the exported graph scores the same, heat-maps fit the image."""

from __future__ import annotations

import numpy as np

from dure.models.vision.export import OnnxScorer, onnx_bytes
from dure.models.vision.images import ImageSpec, input_shape
from dure.models.vision.inspector import Inspector, TeachingSet
from dure.models.vision.patchcore import PatchCore
from dure.services.demo.sheet_metal import sheet_image


def _long(seed: int, label: str = "good") -> np.ndarray:
    """A tall strip of sheet metal, 96 wide and 256 high (like a commutator photograph)."""
    return np.ascontiguousarray(sheet_image(seed, label, 256).pixels[:, 80:176])


def test_the_input_shape_follows_the_aspect_in_multiples_of_32() -> None:
    assert input_shape(ImageSpec(False, 8, 512, 205), 256) == (384, 160)
    assert input_shape(ImageSpec(False, 8, 300, 310), 256) == (256, 256)  # nearly square
    assert input_shape(ImageSpec(False, 8, 100, 400), 128) == (64, 256)
    for h, w in ((512, 205), (205, 512), (1000, 999)):
        shape = input_shape(ImageSpec(True, 8, h, w), 224)
        assert shape[0] % 32 == 0 and shape[1] % 32 == 0
        assert 0.75 < shape[0] * shape[1] / 224**2 < 1.3
        assert abs(np.log(shape[0] / shape[1] / (h / w))) < 0.1


def test_a_long_part_is_scored_in_its_own_shape_and_exports_with_parity() -> None:
    model = PatchCore(image_size=128, coreset_ratio=0.5).fit([_long(k) for k in range(4)])
    assert model.input_shape_ == (256, 96) and model.map_shape_ == (256, 96)
    images = [_long(50), _long(51, "crack")]
    scores = model.score(images)
    assert scores.maps.shape == (2, 256, 96)
    exported = OnnxScorer(onnx_bytes(model), model.input_shape_).score(images)
    np.testing.assert_allclose(exported.image, scores.image, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(exported.maps, scores.maps, rtol=1e-4, atol=1e-4)
    square = PatchCore(image_size=128, coreset_ratio=0.5, keep_aspect=False)
    assert square.fit([_long(k) for k in range(4)]).input_shape_ == (128, 128)


def test_the_inspectors_heat_map_fits_the_long_image() -> None:
    data = TeachingSet([_long(k) for k in range(4)], [_long(10), _long(11)], [], [])
    inspector = Inspector({"image_size": 128, "coreset_ratio": 0.5}).fit(data)
    finding = inspector.inspect([_long(60, "scratch")])[0]
    assert finding.heatmap.shape == (256, 96)
    assert all(0 <= r.box[0] < r.box[2] <= 96 and r.box[3] <= 256 for r in finding.regions)
