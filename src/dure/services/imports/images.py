"""Labelled images of a part into the store: a folder (with masks or boxes), or uploads.

Every image is checked before any is stored: one damaged file refuses the whole import
and names the file, so nothing is half-imported.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from dure.domain.parts import LabelledImage
from dure.errors import Conflict, InvalidInput
from dure.ingest.image_folders import FolderImage, detect_layout, scan
from dure.ingest.images import CheckedImage, check_image, safe_filename
from dure.services.imports.labels import LABEL_PATTERN, check_label
from dure.services.inspection.records import store_blob
from dure.store.session import Session


@dataclass(frozen=True)
class ImageImportResult:
    """Counts of an image-folder import."""

    layout: str
    images_new: int
    images_seen: int
    by_label: dict[str, int]


def import_image_folder(
    session: Session,
    root: Path,
    part_id: str,
    layout: str = "auto",
    *,
    max_bytes: int,
    max_pixels: int,
) -> ImageImportResult:
    """Store every image (and mask) of a folder as labelled images of ``part_id``.

    All images are checked before any is stored: one damaged file rejects the import
    and names the file, so nothing is half-imported.
    """
    session.parts.get(part_id)
    items = scan(Path(root), layout)
    checked = []
    for item in items:
        data = item.path.read_bytes()
        info = check_image(data, str(item.path), max_bytes=max_bytes, max_pixels=max_pixels)
        mask = item.mask_path.read_bytes() if item.mask_path else None
        if mask is not None:
            check_image(mask, str(item.mask_path), max_bytes=max_bytes, max_pixels=max_pixels)
        checked.append((item, data, info, mask))
    new, seen, by_label = _store_labelled(session, part_id, checked)
    used = layout if layout != "auto" else detect_layout(Path(root))
    return ImageImportResult(used, new, seen, by_label)


def _store_labelled(
    session: Session,
    part_id: str,
    checked: list[tuple[FolderImage, bytes, CheckedImage, bytes | None]],
) -> tuple[int, int, dict[str, int]]:
    new = seen = 0
    by_label: dict[str, int] = {}
    for item, data, info, mask in checked:
        sha = store_blob(session, data, info.media_type, item.path.name)
        mask_sha = None
        if mask is not None and item.mask_path is not None:
            mask_sha = store_blob(session, mask, "image/png", item.mask_path.name)
        record = LabelledImage(
            org_id=session.caller.org_id,
            part_id=part_id,
            image_sha256=sha,
            split=item.split,
            label=item.label,
            mask_sha256=mask_sha,
            boxes=[list(b) for b in item.boxes],
            source_name=item.relative_name,
        )
        try:
            session.labelled_images.add(record)
            new += 1
        except Conflict:
            seen += 1
        by_label[item.label] = by_label.get(item.label, 0) + 1
    return new, seen, by_label


def add_labelled_images(
    session: Session,
    part_id: str,
    files: list[tuple[str | None, bytes]],
    label: str,
    split: str = "train",
    *,
    max_bytes: int,
    max_pixels: int,
) -> ImageImportResult:
    """Store uploaded images of ``part_id`` with one label (``good`` or a defect type code).

    Every file is checked first; one bad file refuses the upload, naming it.
    """
    session.parts.get(part_id)
    if not LABEL_PATTERN.match(label):
        raise InvalidInput("label", f"{label!r}: use good or a defect type code like scratch")
    if split not in ("train", "test"):
        raise InvalidInput("split", f"{split!r}: use train or test")
    check_label(session, label)
    if not files:
        raise InvalidInput("images", "send at least one image")
    checked = []
    for filename, data in files:
        name = safe_filename(filename)
        info = check_image(data, name, max_bytes=max_bytes, max_pixels=max_pixels)
        checked.append((FolderImage(Path("upload") / name, split, label), data, info, None))
    new, seen, by_label = _store_labelled(session, part_id, checked)
    return ImageImportResult("upload", new, seen, by_label)
