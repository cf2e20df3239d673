"""Procedural sheet-metal images: brushed texture plus defects with exact pixel masks."""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from PIL import Image

DEFECT_TYPES = ("scratch", "dent", "crack", "rust", "inclusion")


@dataclass(frozen=True)
class SheetImage:
    """One generated image (RGB uint8), its defect mask (bool) and label."""

    pixels: np.ndarray
    mask: np.ndarray
    label: str

    def png(self) -> bytes:
        """The image encoded as PNG."""
        return _png(self.pixels)

    def mask_png(self) -> bytes:
        """The mask as a black/white PNG (white = defect)."""
        return _png((self.mask * 255).astype(np.uint8))


def _png(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG", optimize=False, compress_level=1)
    return buf.getvalue()


def brushed_metal(rng: np.random.Generator, size: int) -> np.ndarray:
    """A grey brushed-steel surface in [0, 1]: streaks along x, soft lighting, grain."""
    noise = rng.normal(0.0, 1.0, (size, size + 64))
    kernel = np.ones(64) / 64.0
    streaks = np.apply_along_axis(lambda r: np.convolve(r, kernel, mode="valid")[:size], 1, noise)
    streaks = streaks / (streaks.std() + 1e-9)
    y, x = np.mgrid[0:size, 0:size] / size
    angle = rng.uniform(0, 2 * np.pi)
    light = 0.06 * np.cos(angle) * (x - 0.5) + 0.06 * np.sin(angle) * (y - 0.5)
    base = rng.uniform(0.52, 0.62)
    return np.clip(base + light + 0.035 * streaks + rng.normal(0, 0.012, (size, size)), 0, 1)


def _segment_distance(size: int, p0: np.ndarray, p1: np.ndarray) -> np.ndarray:
    y, x = np.mgrid[0:size, 0:size].astype(np.float64)
    d = p1 - p0
    t = np.clip(((x - p0[0]) * d[0] + (y - p0[1]) * d[1]) / max(float(d @ d), 1e-9), 0, 1)
    return np.hypot(x - (p0[0] + t * d[0]), y - (p0[1] + t * d[1]))


def _scratch(rng, grey, size):  # type: ignore[no-untyped-def]
    p0 = rng.uniform(0.15, 0.85, 2) * size
    ang = rng.uniform(0, np.pi)
    length = rng.uniform(0.25, 0.6) * size
    p1 = np.clip(p0 + length * np.array([np.cos(ang), np.sin(ang)]), 2, size - 3)
    dist = _segment_distance(size, p0, p1)
    width = rng.uniform(0.8, 1.8)
    mask = dist <= width + 0.5
    grey = grey + 0.28 * np.exp(-((dist / width) ** 2)) * rng.choice([-1, 1])
    return grey, mask


def _dent(rng, grey, size):  # type: ignore[no-untyped-def]
    c = rng.uniform(0.25, 0.75, 2) * size
    r = rng.uniform(0.06, 0.12) * size
    y, x = np.mgrid[0:size, 0:size]
    dx, dy = (x - c[0]) / r, (y - c[1]) / r
    bump = np.exp(-(dx**2 + dy**2))
    shade = -0.35 * (dx + dy) * bump  # lit from one side, shadowed on the other
    mask = bump > 0.25
    return grey + shade, mask


def _crack(rng, grey, size):  # type: ignore[no-untyped-def]
    mask = np.zeros((size, size), bool)
    pos = rng.uniform(0.2, 0.8, 2) * size
    heading = rng.uniform(0, 2 * np.pi)
    for _ in range(int(rng.integers(40, 80))):
        heading += rng.normal(0, 0.35)
        step = pos + 2.0 * np.array([np.cos(heading), np.sin(heading)])
        step = np.clip(step, 1, size - 2)
        mask |= _segment_distance(size, pos, step) <= 0.9
        pos = step
    return np.where(mask, grey * 0.35, grey), mask


def _inclusion(rng, grey, size):  # type: ignore[no-untyped-def]
    mask = np.zeros((size, size), bool)
    centre = rng.uniform(0.2, 0.8, 2) * size
    y, x = np.mgrid[0:size, 0:size]
    for _ in range(int(rng.integers(3, 8))):
        c = centre + rng.normal(0, 0.04 * size, 2)
        r = rng.uniform(1.5, 3.5)
        mask |= (x - c[0]) ** 2 + (y - c[1]) ** 2 <= r**2
    return np.where(mask, grey * 0.3 + 0.05, grey), mask


def _rust(rng, rgb, size):  # type: ignore[no-untyped-def]
    c = rng.uniform(0.25, 0.75, 2) * size
    y, x = np.mgrid[0:size, 0:size]
    r = rng.uniform(0.07, 0.14) * size
    edge = rng.normal(0, 1, (size // 8, size // 8))
    edge = np.kron(edge, np.ones((8, 8)))[:size, :size]
    mask = np.hypot(x - c[0], y - c[1]) / r + 0.25 * edge < 1.0
    texture = 0.75 + 0.25 * rng.random((size, size))
    rust = np.stack([0.55 * texture, 0.27 * texture, 0.12 * texture], axis=-1)
    rgb = np.where(mask[..., None], 0.35 * rgb + 0.65 * rust, rgb)
    return rgb, mask


def sheet_image(seed: int, label: str, size: int = 256) -> SheetImage:
    """The image for ``seed``: the same seed and label always give the same pixels."""
    if label != "good" and label not in DEFECT_TYPES:
        raise ValueError(f"unknown defect type {label!r}; use good or one of {DEFECT_TYPES}")
    rng = np.random.default_rng(seed)
    grey = brushed_metal(rng, size)
    mask = np.zeros((size, size), bool)
    if label in ("scratch", "dent", "crack", "inclusion"):
        grey, mask = {"scratch": _scratch, "dent": _dent, "crack": _crack, "inclusion": _inclusion}[
            label
        ](rng, grey, size)
    tint = np.array([1.0, 1.0, 1.02]) * rng.uniform(0.97, 1.03)
    rgb = np.clip(grey, 0, 1)[..., None] * tint
    if label == "rust":
        rgb, mask = _rust(rng, rgb, size)
    pixels = (np.clip(rgb, 0, 1) * 255).astype(np.uint8)
    return SheetImage(pixels, mask, label)
