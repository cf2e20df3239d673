"""Decoding camera images into the arrays the inspector takes (Pillow and numpy only; the
same rules as the site's upload check: 8-bit grey or colour, or 16-bit grey)."""

from __future__ import annotations

import io
import re
import warnings
from pathlib import PurePosixPath

import numpy as np
from PIL import Image

from dure.errors import InvalidInput

MAX_PIXELS = 50_000_000
_SAFE_NAME = re.compile(r"^[\w\-. ()\[\]가-힣]{1,200}$")


def decode_image(data: bytes, name: str) -> np.ndarray:
    """The pixels of an image file, or InvalidInput naming it when it cannot be decoded."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                if image.width * image.height > MAX_PIXELS:
                    raise InvalidInput(name, f"{image.width}x{image.height} px is too large")
                image.load()
                return _pixels(image)
    except InvalidInput:
        raise
    except (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombWarning) as exc:
        raise InvalidInput(name, f"the image cannot be decoded ({type(exc).__name__})") from None


def _pixels(image: Image.Image) -> np.ndarray:
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(image)
        return arr if arr.dtype == np.uint16 else arr.clip(0, 65535).astype(np.uint16)
    if image.mode not in ("L", "RGB"):
        image = image.convert("L" if image.mode in ("1", "LA") else "RGB")
    return np.asarray(image)


def wire_filename(name: str, rid: str, data: bytes) -> str:
    """A file name the site accepts: the camera's, or ``<rid>.<format>`` when it is odd."""
    base = PurePosixPath(name.replace("\\", "/")).name
    if _SAFE_NAME.match(base) and "." in base:
        return base
    return f"{rid}{_extension(data)}"


def _extension(data: bytes) -> str:
    if data.startswith(b"\x89PNG"):
        return ".png"
    if data.startswith(b"\xff\xd8"):
        return ".jpg"
    if data.startswith(b"BM"):
        return ".bmp"
    if data[:4] in (b"II*\x00", b"MM\x00*"):
        return ".tif"
    return ".img"
