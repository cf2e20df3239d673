"""Pixels without torch: what a model's images look like, and images to float arrays.

A model remembers what its training images were (grey or colour, 8 or 16 bit, about what
size) as an ``ImageSpec``; images that do not match are refused with a reason rather than
scored into a meaningless number. ``to_array`` makes the (N, 3, H, W) batch the scoring
graphs take and ``heat_at`` turns an anomaly map into a heat map at an image's size; both
need numpy and Pillow only, so the line-side runtime shares them with the site.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
from PIL import Image

from dure.errors import InvalidInput

MIN_SIDE = 16
# How far (in area) an image may be from the median training image before it is refused.
MAX_AREA_RATIO = 16.0


@dataclass(frozen=True)
class ImageSpec:
    """What a model's training images looked like."""

    colour: bool
    bit_depth: int
    height: int
    width: int

    def as_dict(self) -> dict[str, object]:
        """JSON form for the model card."""
        return asdict(self)


def describe(image: np.ndarray, name: str = "image") -> tuple[bool, int, int, int]:
    """(colour, bit depth, height, width) of one image; InvalidInput if it is not an image."""
    arr = np.asarray(image)
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[..., 0]
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] not in (3, 4)):
        raise InvalidInput(name, f"an image must be H×W or H×W×3, got shape {arr.shape}")
    if arr.size == 0:
        raise InvalidInput(name, "the image is empty")
    height, width = arr.shape[:2]
    if min(height, width) < MIN_SIDE:
        raise InvalidInput(name, f"{width}x{height} px is too small; need {MIN_SIDE} px a side")
    if arr.dtype == np.uint8:
        depth = 8
    elif arr.dtype == np.uint16:
        depth = 16
    else:
        raise InvalidInput(name, f"pixels must be 8 or 16 bit integers, got {arr.dtype}")
    colour = arr.ndim == 3 and not (
        np.array_equal(arr[..., 0], arr[..., 1]) and np.array_equal(arr[..., 0], arr[..., 2])
    )
    return colour, depth, height, width


def learn_spec(images: Sequence[np.ndarray], names: Sequence[str] = ()) -> ImageSpec:
    """The spec of a training set; refuses a set that mixes grey and colour or bit depths."""

    def name(i: int) -> str:
        return names[i] if i < len(names) else f"training image {i}"

    described = [describe(im, name(i)) for i, im in enumerate(images)]
    first_colour, first_depth = described[0][:2]
    for i, (colour, depth, _, _) in enumerate(described):
        if colour != first_colour:
            kinds = ("colour", "grey") if first_colour else ("grey", "colour")
            raise InvalidInput(
                name(i), f"is {kinds[1]} while {name(0)} is {kinds[0]}: teach one kind only"
            )
        if depth != first_depth:
            raise InvalidInput(
                name(i), f"is {depth}-bit while {name(0)} is {first_depth}-bit: teach one kind only"
            )
    heights = sorted(d[2] for d in described)
    widths = sorted(d[3] for d in described)
    return ImageSpec(
        first_colour, first_depth, heights[len(heights) // 2], widths[len(widths) // 2]
    )


def check_against(spec: ImageSpec, images: Sequence[np.ndarray], names: Sequence[str] = ()) -> None:
    """Raise InvalidInput naming the first image that does not fit ``spec``."""
    for i, image in enumerate(images):
        name = names[i] if i < len(names) else f"image {i}"
        colour, depth, height, width = describe(image, name)
        if colour != spec.colour:
            taught, given = ("colour", "grey") if spec.colour else ("grey", "colour")
            raise InvalidInput(
                name, f"the model was taught on {taught} images; this one is {given}"
            )
        if depth != spec.bit_depth:
            raise InvalidInput(
                name,
                f"the model was taught on {spec.bit_depth}-bit images; this one is {depth}-bit",
            )
        ratio = (height * width) / (spec.height * spec.width)
        if not 1 / MAX_AREA_RATIO <= ratio <= MAX_AREA_RATIO:
            raise InvalidInput(
                name,
                f"{width}x{height} px is far from the {spec.width}x{spec.height} px the model "
                "was taught on; crop or scale it to the taught view",
            )


Shape = tuple[int, int]
SQUARE_WITHIN = 1.15  # aspect ratios closer to 1 than this are taught square
STRIDE = 32  # the backbone's coarsest stride: input sides are multiples of it


def as_shape(size: int | Shape) -> Shape:
    """(height, width) of a size given as one side (square) or as a pair."""
    if isinstance(size, int):
        return (size, size)
    height, width = size
    return (int(height), int(width))


def input_shape(spec: ImageSpec, size: int) -> Shape:
    """The (height, width) a model takes images of ``spec`` at: about ``size``² pixels with
    the images' own aspect, both sides multiples of 32; square when nearly square."""
    aspect = spec.height / spec.width
    if 1 / SQUARE_WITHIN <= aspect <= SQUARE_WITHIN:
        return (size, size)
    # Sides are multiples of 32, so the aspect and the area can only be near their aims:
    # of the widths around the ideal one, take the pair that misses both least.
    ideal = size / float(np.sqrt(aspect)) / STRIDE
    best: tuple[float, Shape] | None = None
    for k in range(max(1, int(ideal) - 1), int(ideal) + 3):
        width = k * STRIDE
        height = max(STRIDE, int(round(width * aspect / STRIDE)) * STRIDE)
        miss = abs(np.log(height / width / aspect)) + 0.5 * abs(np.log(height * width / size**2))
        if best is None or miss < best[0]:
            best = (float(miss), (height, width))
    assert best is not None
    return best[1]


def to_array(images: Sequence[np.ndarray | Image.Image], size: int | Shape) -> np.ndarray:
    """Images (grey or RGB, any size, 8 or 16 bit) to a (N, 3, height, width) float32 array
    in [0, 1]; ``size`` is one side (square) or (height, width)."""
    height, width = as_shape(size)
    out = np.empty((len(images), 3, height, width), dtype=np.float32)
    for i, image in enumerate(images):
        pil = image if isinstance(image, Image.Image) else _to_pil(np.asarray(image))
        pil = pil.convert("RGB").resize((width, height), Image.BILINEAR)
        out[i] = np.asarray(pil, dtype=np.float32).transpose(2, 0, 1) / 255.0
    return out


def heat_at(raw_map: np.ndarray, level: float, height: int, width: int) -> np.ndarray:
    """An anomaly map divided by the map level and resized (bilinear) to ``height`` ×
    ``width``: 1.0 and above marks where the part looks defective. float32."""
    scaled = np.asarray(raw_map, dtype=np.float32) / float(level)
    heat = Image.fromarray(scaled).resize((int(width), int(height)), Image.BILINEAR)
    return np.asarray(heat, dtype=np.float32)


def _to_pil(arr: np.ndarray) -> Image.Image:
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[..., 0]
    if arr.dtype == np.uint16:  # the full 16-bit range onto 8 bits
        arr = (arr.astype(np.uint32) * 255 // 65535).astype(np.uint8)
    return Image.fromarray(arr)
