"""Heat-maps people can read: the part stays visible, colour only on defect regions, each
region outlined and listed with its box, area and peak."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from dure.models.vision.heatmaps import OUTLINE_RGB, overlay, overlay_png
from dure.models.vision.regions import find_regions, outline, region_mask


def _map(size: int = 100) -> np.ndarray:
    heat = np.full((size, size), 0.3, np.float32)
    heat[10:14, 20:80] = 1.6  # a thin scratch, 4 px wide
    heat[60:70, 60:70] = 1.2  # a spot
    heat[90, 5] = 3.0  # a speck: too small to list
    return heat


def test_regions_are_the_connected_parts_over_the_threshold_largest_first() -> None:
    regions = find_regions(_map(), flagged=True)
    assert [r.box for r in regions] == [(20, 10, 80, 14), (60, 60, 70, 70)]
    scratch, spot = regions
    assert scratch.area == 240 and scratch.share == 0.024 and scratch.peak == 1.6
    assert spot.as_dict() == {"box": [60, 60, 70, 70], "area": 100, "share": 0.01, "peak": 1.2}


def test_a_part_judged_good_has_no_regions() -> None:
    assert find_regions(_map(), flagged=False) == []
    assert not region_mask(_map(), flagged=False).any()


def test_a_flagged_part_whose_map_stays_under_the_threshold_shows_its_hottest_part() -> None:
    heat = np.full((50, 50), 0.2, np.float32)
    heat[20:24, 20:24] = 0.9
    regions = find_regions(heat, flagged=True)
    assert [r.box for r in regions] == [(20, 20, 24, 24)]


def test_overlay_keeps_the_part_visible_and_outlines_each_region() -> None:
    image = np.tile(np.arange(100, dtype=np.uint8)[None, :] + 60, (100, 1))  # grey ramp
    heat = _map()
    picture = overlay(image, heat, flagged=True)
    assert picture.shape == (100, 100, 3)
    far = np.ones((100, 100), bool)
    far[0:24, 10:90] = False
    far[50:80, 50:80] = False
    far[85:95, 0:10] = False
    # outside the regions the part is exactly as it was
    assert (picture[far] == np.stack([image] * 3, axis=-1)[far]).all()
    edge = outline(heat >= 1.0)
    assert (picture[edge] == OUTLINE_RGB).all()
    assert not (picture[12, 40] == picture[12, 40][0]).all()  # inside the scratch: coloured
    good = overlay(image, heat, flagged=False)
    assert (good == np.stack([image] * 3, axis=-1)).all()


def test_overlay_png_is_the_image_size_and_reads_16_bit_grey() -> None:
    image = np.full((40, 60), 30000, np.uint16)
    heat = np.zeros((40, 60), np.float32)
    heat[5:10, 5:10] = 2.0
    png = Image.open(io.BytesIO(overlay_png(image, heat, True)))
    assert png.size == (60, 40) and png.mode == "RGB"


def test_synthetic_defects_change_the_image_where_their_mask_says() -> None:
    from dure.models.vision.synthetic import KINDS, synthetic_defects
    from dure.services.demo.sheet_metal import sheet_image

    goods = [sheet_image(k, "good", 128).pixels for k in range(8)]
    made = synthetic_defects(goods, seed=4)
    assert {d.kind for d in made} <= set(KINDS) and len(made) == 8
    for good, defect in zip(goods, made, strict=True):
        assert defect.pixels.shape == good.shape and defect.pixels.dtype == good.dtype
        assert 0 < defect.mask.mean() < 0.2
        changed = np.abs(defect.pixels.astype(int) - good.astype(int)).max(axis=-1) > 0
        assert changed[defect.mask].mean() > 0.5  # the mask is where it changed ...
        assert changed[~defect.mask].mean() < 0.05  # ... and hardly anywhere else
    again = synthetic_defects(goods, seed=4)
    assert all((a.pixels == b.pixels).all() for a, b in zip(made, again, strict=True))
