"""Patch features for anomaly detection: two backbone stages, locally aggregated, one grid."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from dure.models.vision.efficientnet_lite import EfficientNetLite


class PatchFeatures(nn.Module):
    """Image batch (N, 3, H, W) in [0, 1] to patch features (N, C, h, w).

    With several averaging windows the channels hold one block per window (e.g. a
    regional one for the image score and a local one for the anomaly map).

    Scaling to the backbone's input range is inside the module, so an exported graph
    takes the same input as training did.
    """

    def __init__(
        self,
        backbone: EfficientNetLite,
        stages: tuple[int, ...] = (5, 6),
        neighbourhood: int | tuple[int, ...] = 3,
        standardise: bool = False,
    ) -> None:
        super().__init__()
        self.backbone = backbone
        self.stages = stages
        # One block of channels per averaging window, in this order.
        self.windows = (neighbourhood,) if isinstance(neighbourhood, int) else tuple(neighbourhood)
        self.standardise = standardise

    def forward(self, images: Tensor) -> Tensor:
        if self.standardise:
            # Same brightness and contrast for every image: lighting varies between shots.
            mean = images.mean(dim=(1, 2, 3), keepdim=True)
            std = images.std(dim=(1, 2, 3), keepdim=True)
            images = (images - mean) / (std + 1e-6) * (40 / 255) + 0.5
        x = (images - 0.5) / 0.5
        maps = self.backbone.stage_outputs(x, self.stages)
        size = maps[0].shape[-2:]
        out = []
        for window in self.windows:
            for fmap in maps:
                fmap = F.avg_pool2d(
                    fmap, window, stride=1, padding=window // 2, count_include_pad=False
                )
                if fmap.shape[-2:] != size:
                    fmap = F.interpolate(fmap, size=size, mode="bilinear", align_corners=False)
                out.append(fmap)
        return torch.cat(out, dim=1)
