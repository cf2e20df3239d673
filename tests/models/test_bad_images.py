"""Images a detector cannot judge are refused with a reason, never scored into nonsense."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dure.errors import InvalidInput
from dure.ingest.images import decode_image
from dure.models.vision.images import learn_spec
from dure.models.vision.patchcore import PatchCore
from dure.services.demo.sheet_metal import sheet_image

GREY_TRAIN = [sheet_image(k, "good", 128).pixels[..., 0].copy() for k in range(6)]


@pytest.fixture(scope="module")
def grey_model() -> PatchCore:
    return PatchCore(image_size=128, coreset_ratio=0.5).fit(GREY_TRAIN)


def test_colour_image_for_a_grey_model_is_refused(grey_model: PatchCore) -> None:
    colour = sheet_image(50, "rust", 128).pixels
    with pytest.raises(InvalidInput, match="taught on grey images; this one is colour"):
        grey_model.score([colour])


def test_grey_stored_as_three_equal_channels_is_still_grey(grey_model: PatchCore) -> None:
    as_rgb = np.repeat(GREY_TRAIN[0][..., None], 3, axis=2)
    np.testing.assert_allclose(
        grey_model.score([as_rgb]).image, grey_model.score([GREY_TRAIN[0]]).image, rtol=1e-6
    )


def test_sixteen_bit_image_for_an_eight_bit_model_is_refused(grey_model: PatchCore) -> None:
    deep = GREY_TRAIN[0].astype(np.uint16) * 257
    with pytest.raises(InvalidInput, match="8-bit images; this one is 16-bit"):
        grey_model.score([deep])


def test_wrong_size_empty_and_odd_arrays_are_refused(grey_model: PatchCore) -> None:
    with pytest.raises(InvalidInput, match="far from the 128x128 px"):
        grey_model.score([np.zeros((2048, 2048), np.uint8)])
    with pytest.raises(InvalidInput, match="too small"):
        grey_model.score([np.zeros((8, 8), np.uint8)])
    with pytest.raises(InvalidInput, match="empty|too small"):
        grey_model.score([np.zeros((0, 0), np.uint8)])
    with pytest.raises(InvalidInput, match="8 or 16 bit"):
        grey_model.score([np.zeros((128, 128), np.float64)])
    with pytest.raises(InvalidInput, match="H×W or H×W×3"):
        grey_model.score([np.zeros((128, 128, 2), np.uint8)])


def test_mixed_training_sets_are_refused_naming_the_image() -> None:
    colour = sheet_image(60, "good", 128).pixels
    with pytest.raises(InvalidInput, match="b.png.*grey"):
        learn_spec([colour, GREY_TRAIN[0]], ["a.png", "b.png"])


def test_spec_survives_save_and_load(grey_model: PatchCore, tmp_path: Path) -> None:
    grey_model.save(tmp_path / "m")
    again = PatchCore.load(tmp_path / "m")
    assert again.image_spec_ == grey_model.image_spec_
    with pytest.raises(InvalidInput, match="colour"):
        again.score([sheet_image(61, "good", 128).pixels])


@pytest.mark.parametrize(
    ("data", "reason"),
    [(b"", "cannot be decoded"), (b"\x89PNG\r\n\x1a\nshort", "cannot be decoded")],
)
def test_corrupt_bytes_name_the_file(data: bytes, reason: str) -> None:
    with pytest.raises(InvalidInput, match=reason) as caught:
        decode_image(data, "part-7.png")
    assert caught.value.field == "part-7.png"
