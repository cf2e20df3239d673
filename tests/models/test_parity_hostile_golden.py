"""A golden set that is not one: truncated, not a zip, too many members, or a few
compressed bytes that would unpack to far more than a golden set holds. Each is refused as
a ModelFileError before it is unpacked (a signed package from a faulty or hostile publisher
must not take the parity job's memory)."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest

from dure.errors import ModelFileError
from dure.models.vision.parity import pack_golden, unpack_golden

MAPS = np.zeros((2, 8, 8), dtype=np.float32)
IMAGES = [b"\x89PNG-one", b"\x89PNG-two"]


def test_an_honest_golden_set_unpacks() -> None:
    images, maps = unpack_golden(pack_golden(IMAGES, MAPS))
    assert images == IMAGES and maps.shape == (2, 8, 8)


@pytest.mark.parametrize(
    "data",
    [
        pack_golden(IMAGES, MAPS)[:200],  # truncated
        b"PK\x03\x04" + b"\x00" * 64,  # a zip header and nothing behind it
        b"\x93NUMPY not an npz",
        b"",
    ],
    ids=["truncated", "zip_header_only", "bare_npy", "empty"],
)
def test_an_unreadable_golden_set_is_a_model_file_error(data: bytes) -> None:
    with pytest.raises(ModelFileError, match="golden set"):
        unpack_golden(data)


def test_a_golden_set_that_unpacks_too_large_is_refused_before_unpacking() -> None:
    huge = np.zeros((1, 2048, 2048), dtype=np.float32)  # 16 MiB of zeros: ~16 KiB packed
    data = pack_golden([b"img"], huge)
    assert len(data) < 100_000
    with pytest.raises(ModelFileError, match="unpacks to"):
        unpack_golden(data, max_bytes=4 << 20)
    images, maps = unpack_golden(data)  # within the default limit it is a golden set
    assert maps.shape == (1, 2048, 2048)


def test_a_golden_set_with_too_many_members_is_refused() -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for i in range(100):
            archive.writestr(f"image_{i:03d}.npy", b"")
    with pytest.raises(ModelFileError, match="members"):
        unpack_golden(out.getvalue())
