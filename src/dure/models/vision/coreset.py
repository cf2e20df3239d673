"""Greedy coreset selection (farthest-point sampling on a random projection)."""

from __future__ import annotations

import numpy as np
import torch


def greedy_coreset(
    features: np.ndarray, n_select: int, random_state: int = 0, projection_dim: int = 128
) -> np.ndarray:
    """Indices of ``n_select`` rows that cover ``features`` (N, D) as evenly as possible."""
    n = features.shape[0]
    if n_select >= n:
        return np.arange(n)
    gen = torch.Generator().manual_seed(random_state)
    x = torch.from_numpy(np.ascontiguousarray(features, dtype=np.float32))
    if x.shape[1] > projection_dim:
        proj = torch.randn(x.shape[1], projection_dim, generator=gen) / projection_dim**0.5
        x = x @ proj
    start = int(torch.randint(n, (1,), generator=gen))
    chosen = [start]
    dist = torch.cdist(x, x[start : start + 1]).squeeze(1)
    for _ in range(n_select - 1):
        idx = int(torch.argmax(dist))
        chosen.append(idx)
        dist = torch.minimum(dist, torch.cdist(x, x[idx : idx + 1]).squeeze(1))
    return np.asarray(chosen, dtype=np.int64)
