"""A taught part and its inspection model for service tests: images, callers, limits."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from dure.domain.parts import LabelledImage, PartNumber
from dure.domain.users import Caller, Role
from dure.services.demo.sheet_metal import sheet_image
from dure.services.inspection.records import ImageLimits, store_blob
from dure.services.inspection.teaching import TrainingSettings
from dure.store.session import Store
from tests.factories import World

LIMITS = ImageLimits(2_000_000, 4_000_000)
SIZE = 128  # small images and model keep the suite quick
FAST = TrainingSettings(image_size=128, coreset_ratio=0.25)


def png(pixels: np.ndarray) -> bytes:
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="PNG")
    return out.getvalue()


def engineer_of_a(world: World) -> Caller:
    return Caller(
        org_id=world.a.org.id,
        user_id=world.a.ids["user_engineer"],
        role=Role.ENGINEER,
        org_kind="supplier",
    )


def teach_images(store: Store, world: World, number: str = "PANEL-2") -> str:
    """A new part of supplier A with 12 good images and 3 each of two defect types."""
    images = [("good", 100 + k) for k in range(12)]
    images += [("scratch", 200 + k) for k in range(3)] + [("dent", 300 + k) for k in range(3)]
    with store.session(engineer_of_a(world)) as s:
        part = s.parts.add(PartNumber(org_id=world.a.org.id, number=number, name="Panel"))
        for label, seed in images:
            data = png(sheet_image(seed, label, SIZE).pixels)
            sha = store_blob(s, data, "image/png", f"{label}-{seed}.png")
            s.labelled_images.add(
                LabelledImage(
                    org_id=world.a.org.id,
                    part_id=part.id,
                    image_sha256=sha,
                    split="train" if label == "good" else "test",
                    label=label,
                    source_name=f"{label}-{seed}.png",
                )
            )
    return part.id
