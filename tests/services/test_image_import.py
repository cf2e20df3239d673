"""Importing an image folder: labelled images stored, a damaged file rejects the whole folder."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from dure.domain.users import Caller, Role
from dure.errors import InvalidInput
from dure.services.imports.images import import_image_folder
from dure.store.session import Store
from dure.store.tables import labelled_images
from tests.factories import World, png_bytes

LIMITS = {"max_bytes": 1_000_000, "max_pixels": 4_000_000}


def _caller(world: World) -> Caller:
    return Caller(org_id=world.a.org.id, user_id=None, role=Role.ENGINEER, org_kind="supplier")


def _count(store: Store) -> int:
    with store.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(labelled_images)).scalar_one())


def _mvtec(root: Path) -> None:
    for rel, value in (
        ("train/good/a.png", 1),
        ("train/good/b.png", 2),
        ("test/dent/c.png", 3),
        ("ground_truth/dent/c_mask.png", 255),
    ):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(png_bytes(value=value))


def test_mvtec_folder_is_imported_once(store: Store, world: World, tmp_path: Path) -> None:
    _mvtec(tmp_path)
    before = _count(store)
    with store.session(_caller(world)) as s:
        first = import_image_folder(s, tmp_path, world.a.ids["part"], **LIMITS)
    with store.session(_caller(world)) as s:
        again = import_image_folder(s, tmp_path, world.a.ids["part"], **LIMITS)
        dent = s.labelled_images.list(label="dent").items[0]
    assert (first.layout, first.images_new, first.by_label) == ("mvtec", 3, {"good": 2, "dent": 1})
    assert (again.images_new, again.images_seen) == (0, 3)
    assert _count(store) == before + 3 and dent.mask_sha256 and dent.split == "test"


def test_one_damaged_image_rejects_the_folder(store: Store, world: World, tmp_path: Path) -> None:
    _mvtec(tmp_path)
    (tmp_path / "train/good/z.png").write_bytes(png_bytes()[:50])
    before = _count(store)
    with pytest.raises(InvalidInput, match="z.png"):
        with store.session(_caller(world)) as s:
            import_image_folder(s, tmp_path, world.a.ids["part"], **LIMITS)
    assert _count(store) == before
