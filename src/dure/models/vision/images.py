"""Turning decoded images into the float batches the vision models take."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from PIL import Image


def to_batch(images: Sequence[np.ndarray | Image.Image], size: int) -> torch.Tensor:
    """Images (grey or RGB, any size, 8 or 16 bit) to a (N, 3, size, size) float batch in [0, 1]."""
    out = np.empty((len(images), 3, size, size), dtype=np.float32)
    for i, image in enumerate(images):
        pil = image if isinstance(image, Image.Image) else Image.fromarray(np.asarray(image))
        if pil.mode in ("I;16", "I;16B", "I;16L", "I"):
            arr = np.asarray(pil, dtype=np.float32)
            scale = 65535.0 if arr.max() > 255 else 255.0
            pil = Image.fromarray((arr / scale * 255).clip(0, 255).astype(np.uint8))
        pil = pil.convert("RGB").resize((size, size), Image.BILINEAR)
        out[i] = np.asarray(pil, dtype=np.float32).transpose(2, 0, 1) / 255.0
    return torch.from_numpy(out)
