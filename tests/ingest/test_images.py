"""Image checks and image-folder layouts."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dure.errors import InvalidInput, PayloadTooLarge
from dure.ingest.image_folders import detect_layout, scan
from dure.ingest.images import check_image, safe_filename
from tests.factories import png_bytes
from tests.memory_probe import peak_memory

LIMITS = {"max_bytes": 1_000_000, "max_pixels": 4_000_000}


def test_a_good_png_is_accepted() -> None:
    info = check_image(png_bytes(), "ok.png", **LIMITS)
    assert (info.media_type, info.width, info.height, info.mode) == ("image/png", 32, 32, "L")


def test_sixteen_bit_images_are_read() -> None:
    buf = io.BytesIO()
    Image.fromarray(np.full((8, 8), 40000, dtype=np.uint16)).save(buf, format="PNG")
    assert check_image(buf.getvalue(), "deep.png", **LIMITS).mode.startswith("I")


@pytest.mark.parametrize(
    ("data", "error", "match"),
    [
        (png_bytes()[:60], InvalidInput, "damaged or truncated|not an image"),
        (b"name,value\nx,1\n", InvalidInput, "not an image"),
        (b"", InvalidInput, "empty"),
        (b"x" * 1_000_001, PayloadTooLarge, "over the upload limit"),
    ],
)
def test_bad_images_are_refused_with_the_file_named(data: bytes, error: type, match: str) -> None:
    with pytest.raises(error, match=match) as caught:
        check_image(data, "part-17.png", **LIMITS)
    assert caught.value.field == "part-17.png"


def test_too_many_pixels_is_refused() -> None:
    buf = io.BytesIO()
    Image.new("L", (3000, 3000)).save(buf, format="PNG")
    with pytest.raises(PayloadTooLarge, match="3000x3000"):
        check_image(buf.getvalue(), "huge.png", **LIMITS)


@pytest.mark.parametrize(
    "name", ["../../etc/passwd", "a/b.png", "..", "c:\\x.png", ".hidden.png", "bad\x00.png", ""]
)
def test_path_like_file_names_are_refused(name: str) -> None:
    with pytest.raises(InvalidInput, match="filename|file name"):
        safe_filename(name)


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def test_mvtec_layout(tmp_path: Path) -> None:
    _write(tmp_path / "train/good/000.png", png_bytes())
    _write(tmp_path / "test/good/000.png", png_bytes())
    _write(tmp_path / "test/scratch/000.png", png_bytes(value=9))
    _write(tmp_path / "ground_truth/scratch/000_mask.png", png_bytes(value=255))
    assert detect_layout(tmp_path) == "mvtec"
    items = {(i.split, i.label, i.mask_path is not None) for i in scan(tmp_path)}
    assert items == {("train", "good", False), ("test", "good", False), ("test", "scratch", True)}


def test_mvtec_defects_without_masks_are_read_without_them(tmp_path: Path) -> None:
    """Most users' folders have no pixel masks: the images are still labelled defects."""
    _write(tmp_path / "train/good/000.png", png_bytes())
    _write(tmp_path / "test/dent/004.png", png_bytes())
    _write(tmp_path / "test/dent/005.png", png_bytes())
    _write(tmp_path / "ground_truth/dent/005_mask.png", png_bytes(value=255))
    masks = {i.path.name: i.mask_path for i in scan(tmp_path) if i.label == "dent"}
    assert masks["004.png"] is None and masks["005.png"] is not None


def test_plain_folder_and_empty_folder(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="holds no images"):
        scan(tmp_path)
    _write(tmp_path / "a.jpg", png_bytes())
    _write(tmp_path / "notes.txt", b"x")
    assert [i.path.name for i in scan(tmp_path)] == ["a.jpg"]


def test_magnetic_tile_layout_of_the_real_set(shared_data: Path) -> None:
    items = scan(shared_data / "magnetic-tile")
    good = [i for i in items if i.label == "good"]
    assert len(good) == 952 and len(items) - len(good) == 392
    assert all(i.mask_path is not None for i in items)
    assert {i.label for i in items} == {"good", "blowhole", "break", "crack", "fray", "uneven"}


def test_neu_det_layout_of_the_real_set(shared_data: Path) -> None:
    items = scan(shared_data / "neu-det")
    assert len(items) == 1800
    assert {i.label for i in items} == {
        "crazing",
        "inclusion",
        "patches",
        "pitted_surface",
        "rolled-in_scale",
        "scratches",
    }
    assert all(i.boxes for i in items if i.split == "train")


def test_a_small_file_declaring_a_huge_canvas_is_refused_before_decoding(
    tmp_path: Path,
) -> None:
    """A 8000×8000 RGBA PNG compresses to a few hundred KB but decodes to 512 MB: refused
    from its header, and checking it costs a subprocess little memory."""

    path = tmp_path / "bomb.png"
    Image.new("RGBA", (8000, 8000), (10, 20, 30, 255)).save(path, optimize=True)
    assert path.stat().st_size < 2_000_000
    with pytest.raises(PayloadTooLarge, match="decodes to 512 MB"):
        check_image(path.read_bytes(), "bomb.png", max_bytes=10_000_000, max_pixels=64_000_000)
    kind, peak_mb = peak_memory(
        "from dure.ingest.images import check_image\n",
        "check_image(open(sys.argv[1], 'rb').read(), 'bomb.png', "
        "max_bytes=10_000_000, max_pixels=64_000_000)",
        path,
    )
    assert kind == "PayloadTooLarge" and peak_mb < 200, peak_mb
