"""Where on a part the inspector saw a defect: connected regions of the heat-map over the
threshold, each with its box, area and peak, largest first."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy import ndimage

MAX_REGIONS = 10
FALLBACK_SHARE = 0.8  # of the peak, when a flagged image's map stays under the threshold


@dataclass(frozen=True)
class Region:
    """One defective region: box as (x0, y0, x1, y1) pixel edges (x1, y1 exclusive), its
    area in pixels and as a share of the image, and its peak in threshold units."""

    box: tuple[int, int, int, int]
    area: int
    share: float
    peak: float

    def as_dict(self) -> dict[str, object]:
        """JSON form for the inspection record and the API."""
        return {**asdict(self), "box": list(self.box)}


def region_mask(heat: np.ndarray, flagged: bool) -> np.ndarray:
    """Pixels that belong to a defect: the map over the threshold (1.0); for a flagged image
    whose smoothed map stays under it, the hottest part (``FALLBACK_SHARE`` of the peak).
    An image judged good has none."""
    heat = np.asarray(heat, dtype=np.float32)
    if not flagged or heat.size == 0:
        return np.zeros(heat.shape, bool)
    over = heat >= 1.0
    if over.any():
        return over
    peak = float(heat.max())
    return heat >= FALLBACK_SHARE * peak if peak > 0 else over


def find_regions(
    heat: np.ndarray, flagged: bool, min_area: int | None = None, most: int = MAX_REGIONS
) -> list[Region]:
    """The connected defect regions of a heat-map (threshold units), largest first.

    Specks smaller than ``min_area`` pixels (default: 0.02 % of the image, at least 4) are
    left out, and at most ``most`` regions are kept.
    """
    mask = region_mask(heat, flagged)
    if not mask.any():
        return []
    floor = min_area if min_area is not None else max(4, int(0.0002 * mask.size))
    labels, count = ndimage.label(mask, structure=np.ones((3, 3), bool))
    found = []
    for index, window in enumerate(ndimage.find_objects(labels), start=1):
        if window is None:
            continue
        inside = labels[window] == index
        area = int(inside.sum())
        if area < floor:
            continue
        rows, cols = window
        peak = float(np.asarray(heat)[window][inside].max())
        found.append(
            Region(
                (int(cols.start), int(rows.start), int(cols.stop), int(rows.stop)),
                area,
                round(area / mask.size, 6),
                round(peak, 4),
            )
        )
    found.sort(key=lambda r: (-r.area, r.box))
    return found[:most]


def outline(mask: np.ndarray, width: int = 1) -> np.ndarray:
    """The boundary pixels of a mask, ``width`` pixels thick, inside the mask."""
    if not mask.any():
        return mask
    inner = ndimage.binary_erosion(mask, structure=np.ones((3, 3), bool), iterations=width)
    return mask & ~inner
