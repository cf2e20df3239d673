"""Checking uploaded image files before anything is stored."""

from __future__ import annotations

import io
import re
import warnings
from dataclasses import dataclass
from pathlib import PurePosixPath

from PIL import Image, UnidentifiedImageError

from dure.errors import InvalidInput, PayloadTooLarge

FORMATS = {"PNG": "image/png", "JPEG": "image/jpeg", "BMP": "image/bmp", "TIFF": "image/tiff"}
_SAFE_NAME = re.compile(r"^[\w\-. ()\[\]가-힣]{1,200}$")


@dataclass(frozen=True)
class ImageInfo:
    """What a checked image is: its format, size and pixel mode."""

    media_type: str
    width: int
    height: int
    mode: str


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


def check_image(data: bytes, filename: str, *, max_bytes: int, max_pixels: int) -> ImageInfo:
    """Decode ``data`` fully; raise InvalidInput naming the file for anything unusable."""
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
                probe.verify()
            with Image.open(io.BytesIO(data)) as full:
                full.load()
                mode = full.mode
    except (
        UnidentifiedImageError,
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
    ) as exc:
        raise InvalidInput(filename, f"not an image Dure can read ({_reason(exc)})") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise InvalidInput(filename, f"the image is damaged or truncated ({_reason(exc)})") from exc
    if fmt not in FORMATS:
        raise InvalidInput(
            filename, f"{fmt or 'unknown'} images are not accepted; use PNG, JPEG, BMP or TIFF"
        )
    return ImageInfo(FORMATS[fmt], width, height, mode)


def _reason(exc: BaseException) -> str:
    return str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
