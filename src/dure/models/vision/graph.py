"""The whole scoring path as one torch module: features, distances to the bank, maps.

The nearest bank patch is found with ||x||² − 2·x·m + ||m||² as one matrix product, so
the graph exports to ONNX with the memory bank as a constant and runs the same in
onnxruntime; its distance is then computed directly, to keep float32 precision.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from dure.models.vision.features import PatchFeatures


class ScoringGraph(nn.Module):
    """Images (N, 3, H, W) in [0, 1] to (image scores (N,), anomaly maps (N, H, W))."""

    def __init__(
        self,
        features: PatchFeatures,
        memory_bank: Tensor,
        image_shape: tuple[int, int],
        blur_sigma: float,
        map_bank: Tensor | None = None,
    ) -> None:
        super().__init__()
        self.features = features
        self.register_buffer("bank", memory_bank.float().contiguous())
        self.register_buffer("bank_sq", (memory_bank.float() ** 2).sum(dim=1))
        self.separate_map = map_bank is not None
        maps_from = map_bank if map_bank is not None else memory_bank[:1]
        self.register_buffer("map_bank", maps_from.float().contiguous())
        self.register_buffer("map_bank_sq", (maps_from.float() ** 2).sum(dim=1))
        self.image_shape = (int(image_shape[0]), int(image_shape[1]))
        radius = max(int(math.ceil(4 * blur_sigma)), 1)
        grid = torch.arange(-radius, radius + 1, dtype=torch.float32)
        kernel = torch.exp(-(grid**2) / (2 * max(blur_sigma, 1e-6) ** 2))
        self.register_buffer("kernel", kernel / kernel.sum())
        self.radius = radius

    @staticmethod
    def _nearest(feats: Tensor, bank: Tensor, bank_sq: Tensor) -> Tensor:
        n, c, h, w = feats.shape
        flat = feats.permute(0, 2, 3, 1).reshape(-1, c)
        sq = (flat**2).sum(dim=1, keepdim=True) - 2 * flat @ bank.T + bank_sq[None, :]
        # The expansion finds the nearest bank patch; its distance is then taken directly,
        # free of the expansion's cancellation (large norms, small distances).
        nearest = torch.index_select(bank, 0, sq.argmin(dim=1))
        exact = ((flat - nearest) ** 2).sum(dim=1)
        return torch.sqrt(exact).reshape(n, 1, h, w)

    def forward(self, images: Tensor) -> tuple[Tensor, Tensor]:
        blocks = self.features(images)
        n = blocks[0].shape[0]
        patch = self._nearest(blocks[0], self.bank, self.bank_sq)
        scores = patch.reshape(n, -1).max(dim=1).values
        if self.separate_map:
            patch = self._nearest(blocks[1], self.map_bank, self.map_bank_sq)
        maps = F.interpolate(patch, size=self.image_shape, mode="bilinear", align_corners=False)
        r = self.radius
        maps = F.pad(maps, [r, r, r, r], mode="reflect")
        maps = F.conv2d(maps, self.kernel.view(1, 1, 1, -1))
        maps = F.conv2d(maps, self.kernel.view(1, 1, -1, 1))
        return scores, maps[:, 0]
