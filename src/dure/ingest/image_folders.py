"""Image folders in the layouts Dure reads: plain, MVTec AD, magnetic-tile and NEU-DET."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from dure.errors import InvalidInput

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff"}
LAYOUTS = ("plain", "mvtec", "magnetic-tile", "neu-det")


@dataclass(frozen=True)
class FolderImage:
    """One image of a folder with what the layout says about it."""

    path: Path
    split: str  # "train" or "test"
    label: str  # "good" or a defect type
    mask_path: Path | None = None
    boxes: tuple[tuple[str, int, int, int, int], ...] = field(default_factory=tuple)

    @property
    def relative_name(self) -> str:
        """A stable name for the image inside its data set (parent folder + file)."""
        return f"{self.path.parent.name}/{self.path.name}"


def detect_layout(root: Path) -> str:
    """Guess the layout of ``root`` from the folders it holds."""
    if (root / "train" / "good").is_dir():
        return "mvtec"
    if (root / "MT_Free").is_dir():
        return "magnetic-tile"
    if (root / "IMAGES").is_dir() and (root / "ANNOTATIONS").is_dir():
        return "neu-det"
    return "plain"


def scan(root: Path, layout: str = "auto") -> list[FolderImage]:
    """Every image of the folder ``root`` read in ``layout`` (or the detected one)."""
    root = Path(root)
    if not root.is_dir():
        raise InvalidInput("path", f"{root} is not a folder")
    layout = detect_layout(root) if layout == "auto" else layout
    readers = {
        "plain": _plain,
        "mvtec": _mvtec,
        "magnetic-tile": _magnetic_tile,
        "neu-det": _neu_det,
    }
    if layout not in readers:
        raise InvalidInput("layout", f"{layout!r}: use one of {', '.join(LAYOUTS)} or auto")
    items = sorted(readers[layout](root), key=lambda i: str(i.path))
    if not items:
        raise InvalidInput("path", f"{root} holds no images in the {layout} layout")
    return items


def _images(folder: Path) -> Iterator[Path]:
    if not folder.is_dir():
        return
    for path in sorted(folder.iterdir()):
        if (
            path.is_file()
            and path.suffix.lower() in IMAGE_SUFFIXES
            and not path.name.startswith(".")
        ):
            yield path


def _plain(root: Path) -> Iterator[FolderImage]:
    for path in _images(root):
        yield FolderImage(path, "train", "good")


def _mvtec(root: Path) -> Iterator[FolderImage]:
    for path in _images(root / "train" / "good"):
        yield FolderImage(path, "train", "good")
    test = root / "test"
    for kind in sorted(p for p in test.iterdir() if p.is_dir()) if test.is_dir() else []:
        for path in _images(kind):
            # masks are optional: most users' folders have none (pixel metrics need them)
            mask = root / "ground_truth" / kind.name / f"{path.stem}_mask.png"
            has_mask = kind.name != "good" and mask.is_file()
            yield FolderImage(path, "test", kind.name, mask if has_mask else None)


def _magnetic_tile(root: Path) -> Iterator[FolderImage]:
    for kind in sorted(p for p in root.iterdir() if p.is_dir() and p.name.startswith("MT_")):
        label = "good" if kind.name == "MT_Free" else kind.name.removeprefix("MT_").lower()
        for path in _images(kind / "Imgs"):
            if path.suffix.lower() != ".jpg":
                continue  # the .png beside each .jpg is its mask
            mask = path.with_suffix(".png")
            yield FolderImage(
                path, "train" if label == "good" else "test", label, mask if mask.exists() else None
            )


def _neu_det(root: Path) -> Iterator[FolderImage]:
    for folder, notes, split in (
        ("IMAGES", "ANNOTATIONS", "train"),
        ("Validation_Images", "Validation_Annotations", "test"),
    ):
        for path in _images(root / folder):
            label = path.stem.rsplit("_", 1)[0]
            note = root / notes / f"{path.stem}.xml"
            yield FolderImage(path, split, label, None, _voc_boxes(note) if note.exists() else ())


def _voc_boxes(path: Path) -> tuple[tuple[str, int, int, int, int], ...]:
    try:
        tree = ET.parse(path)
    except ET.ParseError as exc:
        raise InvalidInput(str(path), f"not a readable Pascal VOC file ({exc})") from exc
    boxes = []
    for obj in tree.getroot().iter("object"):
        box = obj.find("bndbox")
        name = obj.findtext("name", default="")
        if box is None:
            continue
        coords = [
            int(float(box.findtext(k, default="0"))) for k in ("xmin", "ymin", "xmax", "ymax")
        ]
        boxes.append((name, *coords))
    return tuple(boxes)  # type: ignore[arg-type]
