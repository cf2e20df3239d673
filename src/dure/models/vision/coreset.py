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
    # ||x - c||² = ||x||² - 2 x·c + ||c||²: one matrix-vector product per pick.
    norms = (x * x).sum(dim=1)
    chosen = torch.empty(n_select, dtype=torch.long)
    chosen[0] = start
    dist = norms - 2 * (x @ x[start]) + norms[start]
    for i in range(1, n_select):
        idx = int(torch.argmax(dist))
        chosen[i] = idx
        torch.minimum(dist, norms - 2 * (x @ x[idx]) + norms[idx], out=dist)
    return chosen.numpy()
