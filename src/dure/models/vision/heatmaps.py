"""Heat-map pictures: where on the part the inspector saw something abnormal."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

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


def overlay_png(image: np.ndarray, heat: np.ndarray) -> bytes:
    """PNG of the part image with the heat map laid over it where it reaches half the threshold.

    ``heat`` must have the image's height and width.
    """
    picture = np.asarray(Image.fromarray(np.asarray(image)).convert("RGB"), dtype=np.float32)
    if picture.shape[:2] != heat.shape:
        raise ValueError(f"heat map {heat.shape} does not match the image {picture.shape[:2]}")
    alpha = np.clip((heat - 0.5) / 0.5, 0, 1)[..., None] * 0.6
    blended = picture * (1 - alpha) + colourise(heat).astype(np.float32) * alpha
    out = io.BytesIO()
    Image.fromarray(blended.clip(0, 255).astype(np.uint8)).save(out, format="PNG", optimize=False)
    return out.getvalue()
