"""Parity on the box: does the model score its package's golden set here as the site did?

The site puts a golden set in an edge package (a few of its labelled images with the
scores and maps its own install made of them). When the box loads the package it decodes
those images as it decodes camera images, scores them with the ONNX inspector it will
inspect with, and compares (``models.vision.parity.compare``: scores within 1e-4, maps
within 1e-3, the likely cause when not). The short form goes to the site, and to
``dure edge status``. A mismatch does not stop the box (the line keeps its gate); it is
for a person to see on the site's device list and in the box's log.
"""

from __future__ import annotations

import logging
from typing import Any

from dure.collab.packages import VerifiedPackage
from dure.domain.ids import utcnow
from dure.edge.images import decode_image
from dure.models.vision.parity import compare, input_fingerprint, unpack_golden

log = logging.getLogger("dure.edge.parity")

SHORT = (
    "status",
    "images",
    "max_score_drift",
    "max_relative_score_drift",
    "max_map_drift",
    "cause",
    "differing",
    "environment",
)


def check_package(verified: VerifiedPackage, inspector: Any) -> dict[str, Any] | None:
    """The short parity outcome of ``verified`` scored by ``inspector`` (an OnnxInspector),
    None when the package carries no golden set; status ``error`` (with the cause) when
    the golden set cannot be read or scored."""
    golden = verified.card.get("golden")
    package_id = str(verified.card.get("package_id"))
    if verified.golden is None or not golden:
        return None
    try:
        files, expected_maps = unpack_golden(verified.golden)
        names = [str(item.get("name")) for item in golden.get("images") or []]
        pixels = [decode_image(f, n) for f, n in zip(files, names, strict=False)]
        scored = inspector.score(pixels)
        inputs = [input_fingerprint(p, inspector.input_shape) for p in pixels]
        outcome = compare(golden, expected_maps, scored.image, scored.maps, inputs)
        short = {k: outcome.get(k) for k in SHORT}
        short["environment"] = outcome["environment"]["site"]
        short["differing"] = [str(n)[:200] for n in outcome["differing"][:32]]
    except Exception as exc:  # noqa: BLE001 - a failed check never keeps the model from the line
        short = {"status": "error", "images": 0, "cause": f"golden set not checked: {exc}"[:1000]}
    short["package_id"] = package_id
    short["checked_at"] = utcnow().isoformat()
    if short["status"] == "ok":
        log.info(
            "parity of %s: ok (%d images, score drift %.2g)",
            package_id, short["images"], short["max_score_drift"],
        )  # fmt: skip
    else:
        log.error("parity of %s: %s (%s)", package_id, short["status"], short["cause"])
    return short
