"""Tiling: large images are judged tile by tile at native resolution, so small defects
are not shrunk away, and the tile maps are stitched back into one map per image."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Protocol

import numpy as np
from PIL import Image


class _Scores(Protocol):
    image: np.ndarray
    maps: np.ndarray


def origins(length: int, tile: int) -> list[int]:
    """Start offsets of overlapping tiles that cover ``length`` pixels evenly."""
    if length <= tile:
        return [0]
    count = math.ceil(length / tile)
    return [round(k * (length - tile) / (count - 1)) for k in range(count)]


def cut(image: np.ndarray, tile: int) -> list[tuple[np.ndarray, int, int]]:
    """(tile pixels, top, left) of every tile; tiles shrink to the image on a short side."""
    arr = np.asarray(image)
    height, width = arr.shape[:2]
    th, tw = min(tile, height), min(tile, width)
    return [
        (np.ascontiguousarray(arr[y : y + th, x : x + tw]), y, x)
        for y in origins(height, th)
        for x in origins(width, tw)
    ]


def all_tiles(images: Sequence[np.ndarray], tile: int) -> list[np.ndarray]:
    """Every tile of every image (for teaching)."""
    return [t for image in images for t, _, _ in cut(image, tile)]


def score_tiled(
    score_squares: Callable[[Sequence[np.ndarray]], _Scores],
    images: Sequence[np.ndarray],
    tile: int,
    out_size: int | tuple[int, int],
) -> tuple[np.ndarray, np.ndarray]:
    """Image scores (max over tiles) and stitched maps (max where tiles overlap).

    ``score_squares`` scores a list of tiles and returns square maps; the stitched map of
    each image is returned at ``out_size`` (one side, or (height, width)).
    """
    out_h, out_w = (out_size, out_size) if isinstance(out_size, int) else out_size
    scores = np.empty(len(images), dtype=np.float64)
    maps = np.empty((len(images), out_h, out_w), dtype=np.float32)
    for i, image in enumerate(images):
        pieces = cut(image, tile)
        result = score_squares([p for p, _, _ in pieces])
        scores[i] = float(np.max(result.image))
        height, width = np.asarray(image).shape[:2]
        canvas = np.zeros((height, width), dtype=np.float32)
        for (piece, y, x), square in zip(pieces, result.maps, strict=True):
            th, tw = piece.shape[:2]
            part = np.asarray(Image.fromarray(square).resize((tw, th), Image.BILINEAR))
            canvas[y : y + th, x : x + tw] = np.maximum(canvas[y : y + th, x : x + tw], part)
        maps[i] = np.asarray(Image.fromarray(canvas).resize((out_w, out_h), Image.BILINEAR))
    return scores, maps
