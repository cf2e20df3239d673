"""An edge bundle: what the line-side runtime needs of a taught inspector, torch-free.

``edge_bundle`` packs the inspector's own scoring graph (unchanged, so the line scores
with the site's bits), the defect-type embedding exported as a second ONNX graph with its
linear head, and ``edge.json`` (format ``dure-edge/1``): shapes, tiling, the image spec,
the threshold, the map level and the defect types. ``onnx_inspector.OnnxInspector`` reads it.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile

import numpy as np

from dure.models.vision.export import embedding_onnx_bytes
from dure.models.vision.inspector import Inspector
from dure.models.vision.onnx_inspector import (
    EDGE_FORMAT,
    HEAD_COEF,
    HEAD_INTERCEPT,
    MANIFEST,
    SCORING,
    TYPES,
)


def edge_bundle(inspector: Inspector, threshold: float | None = None) -> bytes:
    """A deterministic tar (sorted names, fixed times and owners) of a taught inspector for
    ``OnnxInspector.from_bundle``; ``threshold`` overrides the calibrated one (the user's
    choice on the model card)."""
    inspector.check_is_fitted()
    detector = inspector.detector_
    classifier = inspector.classifier_
    members: dict[str, bytes] = {SCORING: inspector.graph_}
    classes: list[str] = []
    if classifier is not None:
        classes = [str(c) for c in classifier.classes_]
        members[TYPES] = embedding_onnx_bytes(classifier)
        members[HEAD_COEF] = _npy(classifier.coef_)
        members[HEAD_INTERCEPT] = _npy(classifier.intercept_)
    spec = getattr(detector, "image_spec_", None)
    manifest = {
        "format": EDGE_FORMAT,
        "input_shape": [int(v) for v in detector.input_shape_],
        "map_shape": [int(v) for v in detector.map_shape_],
        "tile": int(detector.tile) if detector.tile else None,
        "image_spec": spec.as_dict() if spec is not None else {},
        "threshold": float(inspector.threshold if threshold is None else threshold),
        "map_level": float(inspector.map_level),
        "classes": classes,
        "type_size": int(classifier.image_size) if classifier is not None else None,
        "type_views": (["id", "lr", "ud"] if classifier.flip_augment else ["id"])
        if classifier is not None
        else [],
        "sha256": {name: hashlib.sha256(data).hexdigest() for name, data in members.items()},
    }
    members[MANIFEST] = json.dumps(manifest, sort_keys=True, indent=1).encode()
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name in sorted(members):
            info = tarfile.TarInfo(name)
            info.size = len(members[name])
            info.mtime, info.mode, info.uid, info.gid, info.uname, info.gname = (
                0,
                0o644,
                0,
                0,
                "",
                "",
            )
            tar.addfile(info, io.BytesIO(members[name]))
    return out.getvalue()


def _npy(array: np.ndarray) -> bytes:
    out = io.BytesIO()
    np.save(out, np.ascontiguousarray(array, dtype=np.float32), allow_pickle=False)
    return out.getvalue()
