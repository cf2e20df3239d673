"""Synthetic defects drawn on good images, each with its pixel mask.

They stand in for defects nobody has collected yet: settings are chosen and thresholds
placed on good images of the training pool made defective here, never on a test set.
Four kinds, after the self-supervised anomaly literature (CutPaste, DRAEM's Perlin-noise
blends) and what lines see most: thin scratches, spots, cut-and-paste scars and irregular
blends of foreign texture.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw
from scipy import ndimage

KINDS = ("scratch", "spot", "cutpaste", "blend")


@dataclass(frozen=True)
class SyntheticDefect:
    """A good image made defective: the new pixels, where (mask), and what was drawn."""

    pixels: np.ndarray
    mask: np.ndarray
    kind: str


def _as_float(image: np.ndarray) -> tuple[np.ndarray, float]:
    pixels = np.asarray(image)
    top = 65535.0 if pixels.dtype == np.uint16 else 255.0
    return pixels.astype(np.float32), top


def _back(pixels: np.ndarray, like: np.ndarray, top: float) -> np.ndarray:
    return np.clip(pixels, 0, top).astype(np.asarray(like).dtype)


def _shift(pixels: np.ndarray, top: float, rng: np.random.Generator) -> float:
    """A brightness change that shows against the part: away from its mean level."""
    mean = float(pixels.mean())
    size = rng.uniform(0.12, 0.3) * top
    return -size if mean > top / 2 else size


def _paint(pixels: np.ndarray, mask: np.ndarray, value: np.ndarray | float) -> np.ndarray:
    weight = mask[..., None] if pixels.ndim == 3 else mask
    return pixels * (1 - weight) + np.asarray(value) * weight


def scratch(image: np.ndarray, rng: np.random.Generator) -> SyntheticDefect:
    """A thin line (or two), 1–3 px wide, a tenth to a third of the image long."""
    pixels, top = _as_float(image)
    h, w = pixels.shape[:2]
    canvas = Image.new("L", (w, h), 0)
    draw = ImageDraw.Draw(canvas)
    for _ in range(int(rng.integers(1, 3))):
        length = rng.uniform(0.1, 0.35) * min(h, w)
        angle = rng.uniform(0, np.pi)
        cx, cy = rng.uniform(0.2, 0.8) * w, rng.uniform(0.2, 0.8) * h
        dx, dy = np.cos(angle) * length / 2, np.sin(angle) * length / 2
        width = int(rng.integers(1, 4))
        draw.line([(cx - dx, cy - dy), (cx + dx, cy + dy)], fill=255, width=width)
    soft = ndimage.gaussian_filter(np.asarray(canvas, np.float32) / 255, 0.6)
    out = pixels + _shift(pixels, top, rng) * (soft[..., None] if pixels.ndim == 3 else soft)
    return SyntheticDefect(_back(out, image, top), soft > 0.25, "scratch")


def spot(image: np.ndarray, rng: np.random.Generator) -> SyntheticDefect:
    """A round or oval stain, 2–7 % of the image side across, soft-edged."""
    pixels, top = _as_float(image)
    h, w = pixels.shape[:2]
    ry, rx = rng.uniform(0.02, 0.07, size=2) * min(h, w)
    cy, cx = rng.uniform(0.15, 0.85) * h, rng.uniform(0.15, 0.85) * w
    yy, xx = np.mgrid[0:h, 0:w]
    inside = ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2
    weight = np.clip(1.5 - inside, 0, 1).astype(np.float32)
    out = pixels + _shift(pixels, top, rng) * (weight[..., None] if pixels.ndim == 3 else weight)
    return SyntheticDefect(_back(out, image, top), weight > 0.25, "spot")


def cutpaste(image: np.ndarray, rng: np.random.Generator) -> SyntheticDefect:
    """A patch of the part cut from one place, turned, and pasted over another (a scar)."""
    pixels, top = _as_float(image)
    h, w = pixels.shape[:2]
    ph = max(int(rng.uniform(0.05, 0.15) * h), 2)
    pw = max(int(rng.uniform(0.05, 0.3) * w), 2)
    sy, sx = int(rng.integers(0, h - ph + 1)), int(rng.integers(0, w - pw + 1))
    patch = pixels[sy : sy + ph, sx : sx + pw].copy()
    patch = np.rot90(patch, 2) if rng.random() < 0.5 else patch[::-1]
    patch = patch + rng.uniform(-0.1, 0.1) * top
    ty, tx = int(rng.integers(0, h - ph + 1)), int(rng.integers(0, w - pw + 1))
    out = pixels.copy()
    out[ty : ty + ph, tx : tx + pw] = patch
    mask = np.zeros((h, w), bool)
    mask[ty : ty + ph, tx : tx + pw] = True
    changed = np.abs(out - pixels).reshape(h, w, -1).max(axis=-1) > 0.02 * top
    return SyntheticDefect(_back(out, image, top), mask & changed, "cutpaste")


def blend(
    image: np.ndarray, rng: np.random.Generator, source: np.ndarray | None = None
) -> SyntheticDefect:
    """An irregular blob (smoothed noise over a threshold) blended with foreign texture:
    another image's pixels turned about, or noise when there is no other image."""
    pixels, top = _as_float(image)
    h, w = pixels.shape[:2]
    scale = rng.uniform(0.04, 0.1) * min(h, w)
    noise = ndimage.gaussian_filter(rng.standard_normal((h, w)).astype(np.float32), scale)
    noise /= noise.std() + 1e-9
    blob = noise > rng.uniform(1.6, 2.4)
    labels, count = ndimage.label(blob)
    if count == 0:
        return spot(image, rng)
    keep = int(rng.integers(1, count + 1))
    mask = labels == keep
    if source is not None and np.asarray(source).shape == pixels.shape:
        foreign = np.rot90(np.asarray(source, np.float32), 2)
    else:
        foreign = rng.uniform(0, top) + rng.normal(0, 0.1 * top, pixels.shape)
    alpha = rng.uniform(0.5, 0.9)
    weight = ndimage.gaussian_filter(mask.astype(np.float32), 1.0) * alpha
    out = _paint(pixels, weight, foreign)
    return SyntheticDefect(_back(out, image, top), weight > 0.2 * alpha, "blend")


def synthetic_defects(
    images: Sequence[np.ndarray], seed: int = 0, kinds: Sequence[str] = KINDS
) -> list[SyntheticDefect]:
    """One synthetic defect per image, the kinds taken in turn, seeded."""
    rng = np.random.default_rng(seed)
    out = []
    for k, image in enumerate(images):
        kind = kinds[k % len(kinds)]
        if kind == "scratch":
            made = scratch(image, rng)
        elif kind == "spot":
            made = spot(image, rng)
        elif kind == "cutpaste":
            made = cutpaste(image, rng)
        elif kind == "blend":
            other = images[(k + 1) % len(images)] if len(images) > 1 else None
            made = blend(image, rng, other)
        else:
            raise ValueError(f"unknown synthetic defect {kind!r}; use one of {KINDS}")
        if not made.mask.any():  # drawn off the part or too faint: a spot always shows
            made = spot(image, rng)
        out.append(_keep_grey(made, image))
    return out


def _keep_grey(made: SyntheticDefect, image: np.ndarray) -> SyntheticDefect:
    """A grey part stored with three equal channels stays grey (noise is drawn per channel)."""
    pixels = np.asarray(image)
    if pixels.ndim != 3 or not (
        np.array_equal(pixels[..., 0], pixels[..., 1])
        and np.array_equal(pixels[..., 0], pixels[..., 2])
    ):
        return made
    grey = np.repeat(made.pixels[..., :1], pixels.shape[2], axis=2)
    return SyntheticDefect(np.ascontiguousarray(grey), made.mask, made.kind)
