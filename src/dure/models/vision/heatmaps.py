"""Heat-map pictures people can read: the part as it is, coloured only where the map passes
the threshold, each defect region outlined."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from dure.models.vision.regions import outline, region_mask

FILL_ALPHA = 0.4
OUTLINE_RGB = (230, 0, 255)  # magenta: unlike the part's greys and the heat's yellow-red

# Anchor colours of the heat scale, from calm (below half the threshold) to over it.
_STOPS = np.array(
    [
        [0.0, 0, 0, 128],
        [0.5, 0, 160, 255],
        [0.8, 255, 220, 0],
        [1.0, 255, 0, 0],
    ]
)


def colourise(heat: np.ndarray) -> np.ndarray:
    """A heat map in threshold units (1.0 = at the threshold) to RGB uint8."""
    level = np.clip(np.asarray(heat, dtype=np.float32) / 1.25, 0, 1)
    rgb = np.stack([np.interp(level, _STOPS[:, 0], _STOPS[:, c]) for c in (1, 2, 3)], axis=-1)
    return rgb.astype(np.uint8)


def overlay(image: np.ndarray, heat: np.ndarray, flagged: bool) -> np.ndarray:
    """The part image (RGB uint8) with colour only on its defect regions and a line around
    each; an image judged good comes back as it is.

    ``heat`` is the map in threshold units at the image's height and width.
    """
    pixels = np.asarray(image)
    if pixels.dtype == np.uint16:  # 16-bit grey: scale to 8 bits for the picture
        pixels = (pixels / 257).astype(np.uint8)
    picture = np.asarray(Image.fromarray(pixels).convert("RGB"), dtype=np.float32)
    if picture.shape[:2] != heat.shape:
        raise ValueError(f"heat map {heat.shape} does not match the image {picture.shape[:2]}")
    mask = region_mask(heat, flagged)
    if mask.any():
        alpha = mask[..., None] * FILL_ALPHA
        picture = picture * (1 - alpha) + colourise(heat).astype(np.float32) * alpha
        width = max(1, round(min(mask.shape) / 160))
        picture[outline(mask, width)] = OUTLINE_RGB
    return picture.clip(0, 255).astype(np.uint8)


def overlay_png(image: np.ndarray, heat: np.ndarray, flagged: bool = True) -> bytes:
    """``overlay`` as PNG bytes."""
    out = io.BytesIO()
    Image.fromarray(overlay(image, heat, flagged)).save(out, format="PNG", optimize=False)
    return out.getvalue()
