"""Patch features for anomaly detection: backbone stages, locally aggregated, on a grid.

One block of features scores the image (deep stages, a regional window); a second,
when asked for, draws the anomaly map (shallower stages on a finer grid, a local
window), so a thin scratch is marked where it is instead of over a deep stage's wide
receptive field.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from dure.models.vision.efficientnet_lite import EfficientNetLite


class PatchFeatures(nn.Module):
    """Image batch (N, 3, H, W) in [0, 1] to a tuple of patch-feature blocks (N, C, h, w):
    the image score's, then the map's when it differs (``map_stages`` or ``map_window``).

    Scaling to the backbone's input range is inside the module, so an exported graph
    takes the same input as training did.
    """

    def __init__(
        self,
        backbone: EfficientNetLite,
        stages: tuple[int, ...] = (5, 6),
        window: int = 3,
        standardise: bool = False,
        map_stages: tuple[int, ...] | None = None,
        map_window: int | None = None,
    ) -> None:
        super().__init__()
        self.backbone = backbone
        self.stages = tuple(stages)
        self.window = int(window)
        self.standardise = standardise
        self.map_stages = tuple(map_stages) if map_stages else self.stages
        self.map_window = int(map_window) if map_window else self.window
        self.separate_map = (self.map_stages, self.map_window) != (self.stages, self.window)

    def forward(self, images: Tensor) -> tuple[Tensor, ...]:
        if self.standardise:
            # Same brightness and contrast for every image: lighting varies between shots.
            mean = images.mean(dim=(1, 2, 3), keepdim=True)
            std = images.std(dim=(1, 2, 3), keepdim=True)
            images = (images - mean) / (std + 1e-6) * (40 / 255) + 0.5
        x = (images - 0.5) / 0.5
        wanted = tuple(sorted(set(self.stages) | set(self.map_stages)))
        by_stage = dict(zip(wanted, self.backbone.stage_outputs(x, wanted), strict=True))
        image = _block([by_stage[s] for s in self.stages], self.window)
        if not self.separate_map:
            return (image,)
        return image, _block([by_stage[s] for s in self.map_stages], self.map_window)


def _block(maps: list[Tensor], window: int) -> Tensor:
    """Stage outputs averaged over ``window`` cells and brought to the shallowest's grid."""
    size = maps[0].shape[-2:]
    out = []
    for fmap in maps:
        if window > 1:
            fmap = F.avg_pool2d(
                fmap, window, stride=1, padding=window // 2, count_include_pad=False
            )
        if fmap.shape[-2:] != size:
            fmap = F.interpolate(fmap, size=size, mode="bilinear", align_corners=False)
        out.append(fmap)
    return torch.cat(out, dim=1)
