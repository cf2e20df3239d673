"""Turning decoded images into the float batches the torch vision models take.

The torch-free parts (``ImageSpec``, the checks, ``to_array``) live in ``pixels``; they
are re-exported here so older imports keep working.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from PIL import Image

from dure.models.vision.pixels import (
    MAX_AREA_RATIO,
    MIN_SIDE,
    SQUARE_WITHIN,
    STRIDE,
    ImageSpec,
    Shape,
    as_shape,
    check_against,
    describe,
    heat_at,
    input_shape,
    learn_spec,
    to_array,
)

__all__ = [
    "MAX_AREA_RATIO",
    "MIN_SIDE",
    "SQUARE_WITHIN",
    "STRIDE",
    "ImageSpec",
    "Shape",
    "as_shape",
    "check_against",
    "describe",
    "heat_at",
    "input_shape",
    "learn_spec",
    "to_array",
    "to_batch",
]


def to_batch(images: Sequence[np.ndarray | Image.Image], size: int | Shape) -> torch.Tensor:
    """Images (grey or RGB, any size, 8 or 16 bit) to a (N, 3, height, width) float tensor
    in [0, 1]; ``size`` is one side (square) or (height, width). See ``pixels.to_array``."""
    return torch.from_numpy(to_array(images, size))
