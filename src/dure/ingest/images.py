"""Checking uploaded image files before anything is stored."""

from __future__ import annotations

import io
import re
import warnings
from dataclasses import dataclass
from pathlib import PurePosixPath

import numpy as np
from PIL import Image, UnidentifiedImageError

from dure.errors import InvalidInput, PayloadTooLarge

FORMATS = {"PNG": "image/png", "JPEG": "image/jpeg", "BMP": "image/bmp", "TIFF": "image/tiff"}
# What decoding one image may cost in memory: a small file can declare a huge canvas
# (a 249 KB PNG of 8000×8000 RGBA took 830 MB), so the canvas is costed before decoding.
MAX_DECODED_BYTES = 200_000_000
_SAFE_NAME = re.compile(r"^[\w\-. ()\[\]가-힣]{1,200}$")


@dataclass(frozen=True)
class CheckedImage:
    """An image that passed the checks: its format, size, pixel mode and pixels.

    ``pixels`` is 8-bit grey (H, W), 8-bit colour (H, W, 3) or 16-bit grey (H, W): the
    one decoded copy every later step uses.
    """

    media_type: str
    width: int
    height: int
    mode: str
    pixels: np.ndarray


def safe_filename(name: str | None) -> str:
    """A bare file name from an upload; refuses paths, traversal and control characters."""
    if not name:
        raise InvalidInput("filename", "the upload has no file name")
    if "\\" in name or "/" in name or name in {".", ".."} or "\x00" in name:
        raise InvalidInput("filename", f"{name[:100]!r} must be a plain file name, not a path")
    base = PurePosixPath(name).name
    if not _SAFE_NAME.match(base) or base.startswith("."):
        raise InvalidInput(
            "filename", f"{name[:100]!r}: use letters, digits, spaces and - _ . ( ) only"
        )
    return base


def check_image(
    data: bytes,
    filename: str,
    *,
    max_bytes: int,
    max_pixels: int,
    max_decoded_bytes: int = MAX_DECODED_BYTES,
) -> CheckedImage:
    """Check ``data`` and decode it once, fully; raise InvalidInput naming the file for
    anything unusable (PayloadTooLarge for too many bytes or pixels, checked first). The
    file's structure (chunks, checksums, end marker) is verified before its pixels are
    decoded; the decoded pixels come back with the check, so no later step decodes again."""
    if len(data) > max_bytes:
        raise PayloadTooLarge(
            filename, f"{len(data):,} bytes is over the upload limit of {max_bytes:,} bytes"
        )
    if not data:
        raise InvalidInput(filename, "the file is empty")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as probe:
                fmt = probe.format or ""
                width, height = probe.size
                if width * height > max_pixels:
                    raise PayloadTooLarge(
                        filename, f"{width}x{height} pixels is over the limit of {max_pixels:,}"
                    )
                decoded = width * height * _bytes_per_pixel(probe.mode)
                if decoded > max_decoded_bytes:
                    raise PayloadTooLarge(
                        filename,
                        f"{width}x{height} {probe.mode} decodes to {decoded / 1e6:,.0f} MB, over "
                        f"the limit of {max_decoded_bytes / 1e6:,.0f} MB",
                    )
                if fmt not in FORMATS:
                    raise InvalidInput(
                        filename,
                        f"{fmt or 'unknown'} images are not accepted; use PNG, JPEG, BMP or TIFF",
                    )
                probe.verify()  # the file's structure and checksums, without decoding pixels
            with Image.open(io.BytesIO(data)) as image:
                image.load()  # the one decode: every pixel, truncated data fails here
                mode = image.mode
                pixels = _pixels(image)
    except (
        UnidentifiedImageError,
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
    ) as exc:
        raise InvalidInput(filename, f"not an image Dure can read ({_reason(exc)})") from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise InvalidInput(filename, f"the image is damaged or truncated ({_reason(exc)})") from exc
    return CheckedImage(FORMATS[fmt], width, height, mode, pixels)


def _bytes_per_pixel(mode: str) -> int:
    """Bytes one pixel of ``mode`` costs decoded, with the copy that turns it into an
    array (images with several bands are converted once more)."""
    try:
        bands = Image.getmodebands(mode)
    except (KeyError, ValueError):
        bands = 4
    depth = 2 if mode.startswith("I;16") else 4 if mode in ("I", "F") else 1
    return bands * depth * (2 if bands > 1 else 1)


def decode_image(data: bytes, name: str) -> np.ndarray:
    """The pixels of a stored image (checked when it was uploaded), or InvalidInput naming
    it when it cannot be decoded."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            return _pixels(image)
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise InvalidInput(name, f"the image cannot be decoded ({_reason(exc)})") from exc


def _pixels(image: Image.Image) -> np.ndarray:
    """8-bit grey or colour, or 16-bit grey, as an array (other modes converted)."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(image)
        if arr.dtype != np.uint16:
            arr = arr.clip(0, 65535).astype(np.uint16)
        return arr
    if image.mode not in ("L", "RGB"):
        image = image.convert("L" if image.mode in ("1", "LA") else "RGB")
    return np.asarray(image)


_OBJECT_REPR = re.compile(r"<[\w.]+ object at 0x[0-9a-fA-F]+>")


def _reason(exc: BaseException) -> str:
    if isinstance(exc, UnidentifiedImageError):
        return "its content is not a picture format Pillow knows"  # Pillow names a Python object
    text = _OBJECT_REPR.sub("the file", str(exc).splitlines()[0][:200]) if str(exc) else ""
    return text or type(exc).__name__
