"""The digest of model folders written before the model contract (format 1), to read them."""

from __future__ import annotations

import hashlib

import numpy as np


def digest(*arrays: np.ndarray) -> str:
    """SHA-256 of the arrays' float32 bytes, in order (format 1's check of its arrays)."""
    h = hashlib.sha256()
    for a in arrays:
        h.update(np.ascontiguousarray(a, dtype=np.float32).tobytes())
    return h.hexdigest()
