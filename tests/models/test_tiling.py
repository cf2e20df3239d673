"""Tiling: large images judged at native resolution, tile maps stitched back together."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dure.models.vision.export import OnnxScorer, export_onnx
from dure.models.vision.patchcore import PatchCore
from dure.models.vision.tiling import cut, origins, score_tiled
from dure.services.demo.sheet_metal import sheet_image

BIG = 384


def test_tiles_cover_the_image_evenly() -> None:
    assert origins(100, 128) == [0]
    assert origins(384, 128) == [0, 128, 256]
    assert origins(300, 128) == [0, 86, 172]
    pieces = cut(np.zeros((300, 100), np.uint8), 128)
    assert [(p.shape, y, x) for p, y, x in pieces] == [((128, 100), y, 0) for y in (0, 86, 172)]


def test_tiled_detector_finds_a_small_defect_in_a_large_image(tmp_path: Path) -> None:
    good = [sheet_image(k, "good", BIG).pixels for k in range(6)]
    model = PatchCore(image_size=128, tile=128, coreset_ratio=0.2).fit(good)
    dent = sheet_image(77, "dent", BIG)
    scores = model.score([sheet_image(76, "good", BIG).pixels, dent.pixels])
    assert scores.image[1] > scores.image[0]
    assert scores.maps.shape == (2, 128, 128)
    peak = np.unravel_index(scores.maps[1].argmax(), scores.maps[1].shape)
    mask = dent.mask[:: BIG // 128, :: BIG // 128]
    ys, xs = np.nonzero(mask)
    assert abs(peak[0] - ys.mean()) < 20 and abs(peak[1] - xs.mean()) < 20
    # the exported graph, tiled the same way, gives the same numbers
    onnx = OnnxScorer(export_onnx(model, tmp_path / "m.onnx"), model.image_size)
    image, maps = score_tiled(onnx.score, [dent.pixels], model.tile or 0, model.image_size)
    np.testing.assert_allclose(image, scores.image[1:], rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(maps, scores.maps[1:], rtol=1e-4, atol=1e-3)
    model.save(tmp_path / "saved")
    assert PatchCore.load(tmp_path / "saved").tile == 128
