"""The shipped EfficientNet-Lite0 weights are the ImageNet ones: known photos get their class."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from dure.models.vision.efficientnet_lite import load_efficientnet_lite

skimage_data = pytest.importorskip("skimage.data", reason="scikit-image ships the test photos")


@pytest.mark.parametrize(
    ("photo", "classes"),
    [
        ("chelsea", {281, 282, 285}),  # tabby / tiger cat / Egyptian cat
        ("coffee", {967, 968, 504}),
    ],  # espresso / cup / coffee mug
)
def test_top1_class_of_known_photos(photo: str, classes: set[int]) -> None:
    image = Image.fromarray(getattr(skimage_data, photo)()).resize((224, 224), Image.BILINEAR)
    x = torch.from_numpy(np.asarray(image, dtype=np.float32).copy()).permute(2, 0, 1)[None] / 255
    with torch.inference_mode():
        probs = load_efficientnet_lite(0)((x - 0.5) / 0.5).softmax(-1)[0]
    assert int(probs.argmax()) in classes and float(probs.max()) > 0.5


def test_a_weights_file_that_does_not_fit_is_named(tmp_path) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "other.pth"
    torch.save({"conv.weight": torch.zeros(1)}, bad)
    with pytest.raises(ValueError, match="other.pth does not fit"):
        load_efficientnet_lite(0, bad)
