"""What a Ray worker computes for one image: the same calls as an in-process inspection.

``inspect_bytes`` decodes the stored image and runs the inspector and the heat-map picture
exactly as ``services.inspection.inspect.run_model`` does, so a record made from a Ray
worker's result equals one made in process. No store, no ``ray`` here.
"""

from __future__ import annotations

import io
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

from dure.errors import InvalidInput, ModelFileError
from dure.ingest.images import decode_image
from dure.models.vision.heatmaps import overlay_png
from dure.models.vision.inspector import Finding, Inspector


@dataclass(frozen=True)
class ImageJob:
    """One image to inspect: its key in the batch (``<job>:<i>``), file name, stored bytes."""

    key: str
    name: str
    data: bytes


@dataclass(frozen=True)
class Computed:
    """A worker's answer for one image: the finding and heat-map picture, or why the model
    refused the image, and the Ray node that computed it (``local`` in process)."""

    key: str
    finding: Finding | None
    heatmap: bytes | None
    refused: str | None
    node_id: str


def load_inspector(model_tar: bytes) -> Inspector:
    """The inspector a stored model blob (the tar of its folder) holds."""
    folder = Path(tempfile.mkdtemp(prefix="dure-ray-model-"))
    try:
        with tarfile.open(fileobj=io.BytesIO(model_tar), mode="r") as tar:
            tar.extractall(folder / "model", filter="data")
    except tarfile.TarError as exc:
        raise ModelFileError(f"the stored model is not a readable model archive: {exc}") from exc
    return Inspector.load(folder / "model")


def inspect_bytes(
    inspector: Inspector, threshold: float | None, job: ImageJob, node_id: str
) -> Computed:
    """Decode and inspect one image, one at a time like the in-process path."""
    try:
        pixels = decode_image(job.data, job.name)
        finding = inspector.inspect([pixels], [job.name], threshold)[0]
    except InvalidInput as exc:
        return Computed(job.key, None, None, exc.detail, node_id)
    return Computed(
        job.key, finding, overlay_png(pixels, finding.heatmap, finding.is_defect), None, node_id
    )
