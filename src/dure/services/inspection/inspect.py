"""Inspecting part images with a trained model, one at once (batches: ``batches``).

One path for both: the image is decoded once (by its check), the model and the part's
placement are checked before any inference, the model runs outside any transaction, and
the record is written once with its verdict (``records.save_inspected``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dure.domain.model_versions import ModelVersion
from dure.domain.records import InspectionRecord
from dure.domain.users import Caller
from dure.errors import Conflict, InvalidInput, StateConflict
from dure.ingest.images import check_image, safe_filename
from dure.models.vision.heatmaps import overlay_png
from dure.models.vision.inspector import Finding
from dure.services.inspection.records import (
    ImageLimits,
    Placement,
    check_placement,
    save_inspected,
    store_blob,
)
from dure.services.inspection.teaching import TASK
from dure.services.platform.model_files import InspectorCache
from dure.store.session import Session, Store


@dataclass(frozen=True)
class InspectionOutcome:
    """The stored record of one inspected image and what the model said about it."""

    record: InspectionRecord
    threshold: float
    type_confidence: float | None


def usable_model(session: Session, model_id: str) -> ModelVersion:
    """A ready inspection model the caller owns or may use by grant."""
    model = session.model_versions.get(model_id)
    if model.task != TASK:
        raise StateConflict("model_id", f"model {model_id} is a {model.task} model, not {TASK}")
    if model.status != "ready" or not model.blob_sha256:
        raise Conflict(f"model {model_id} is {model.status}, not ready: train it first")
    return model


def chosen_threshold(model: ModelVersion) -> float | None:
    """The threshold on the model's card (a person may have chosen it), else the model's own."""
    value = (model.card.get("threshold") or {}).get("value")
    return float(value) if isinstance(value, int | float) else None


def _part_for(session: Session, model: ModelVersion, placement: Placement) -> str:
    if placement.part_id:
        return placement.part_id
    if model.org_id == session.caller.org_id and model.part_id:
        return model.part_id
    raise InvalidInput("part_id", "name your part: this model is shared with you by its owner")


def placed_model(session: Session, model_id: str, placement: Placement) -> tuple[ModelVersion, str]:
    """The usable model and the part it inspects, the part, lot and station checked."""
    model = usable_model(session, model_id)
    part_id = _part_for(session, model, placement)
    check_placement(session, part_id, placement)
    return model, part_id


def run_model(
    cache: InspectorCache, model: ModelVersion, image: np.ndarray, name: str
) -> tuple[Finding, bytes]:
    """The model's finding on one image and its heat-map picture (CPU work, no store)."""
    inspector = cache.get(model.blob_sha256 or "")
    finding = inspector.inspect([image], [name], chosen_threshold(model))[0]
    return finding, overlay_png(image, finding.heatmap, finding.is_defect)


def inspect_image(
    store: Store,
    cache: InspectorCache,
    caller: Caller,
    model_id: str,
    data: bytes,
    filename: str | None,
    limits: ImageLimits,
    placement: Placement,
    serial: str | None = None,
) -> InspectionOutcome:
    """Check, inspect and store one image; the record carries verdict, score, type, heat-map.

    A refused image (damaged, unlike the taught ones) or placement leaves nothing behind,
    and no transaction is open while the model runs.
    """
    name = safe_filename(filename)
    image = check_image(data, name, max_bytes=limits.max_bytes, max_pixels=limits.max_pixels)
    with store.session(caller) as session:
        model, part_id = placed_model(session, model_id, placement)
    finding, heatmap = run_model(cache, model, image.pixels, name)
    with store.session(caller) as session:
        sha = store_blob(session, data, image.media_type, name)
        record = save_inspected(
            session,
            model,
            finding,
            heatmap,
            part_id=part_id,
            image_sha256=sha,
            placement=placement,
            serial=serial,
        )
    return InspectionOutcome(record, finding.threshold, finding.type_confidence)
