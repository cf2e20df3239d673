"""Deployment parity: does a model score a golden set at a partner's site as it did at home?

A publisher records, for a few images it may share (the golden set), what its own install
made of them: the image score, the anomaly map and a fingerprint of the model's input (the
image after decoding, resizing and colour conversion). A partner's install scores the same
images with the model as it runs there and ``compare`` says whether the two agree (scores
within ``SCORE_TOLERANCE``, maps within ``MAP_TOLERANCE``) and, when they do not, how far
and the likely cause: the input differs (pre-processing), only the scores differ (another
graph or threshold path, or a golden score recorded wrongly), or the runtime differs.

numpy, Pillow and onnxruntime only: the line-side runtime may check itself too.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from collections.abc import Sequence
from typing import Any

import numpy as np
import onnxruntime
import PIL

from dure.errors import ModelFileError
from dure.models.vision.pixels import Shape, to_array

#: Scores agree when they differ by at most this much, relative to max(1, |expected|).
SCORE_TOLERANCE = 1e-4
#: Maps agree when no pixel differs by more than this, relative to max(1, expected peak).
MAP_TOLERANCE = 1e-3
#: Scores "off by a similar factor" when their ratios to the expected ones spread less.
SIMILAR_FACTOR_SPREAD = 0.25
#: The most a golden set may unpack to (its images as shared and their float32 maps).
MAX_GOLDEN_BYTES = 512 << 20
#: Members of a golden set: the maps and at most this many images (parity.MAX_GOLDEN is 32).
MAX_GOLDEN_MEMBERS = 65
#: The map drift reported when the maps are not even the same shape (JSON has no infinity).
SHAPE_MISMATCH = 1e9


def environment() -> dict[str, str]:
    """The versions of what turns an image into a score here."""
    return {
        "onnxruntime": onnxruntime.__version__,
        "pillow": PIL.__version__,
        "numpy": np.__version__,
    }


def input_fingerprint(image: np.ndarray, shape: int | Shape) -> dict[str, Any]:
    """What the model's input made of ``image`` is: the SHA-256 of the float32 tensor and
    the mean of each colour channel (to say how far two inputs are apart)."""
    tensor = to_array([image], shape)[0]
    return {
        "sha256": hashlib.sha256(np.ascontiguousarray(tensor).tobytes()).hexdigest(),
        "mean": [round(float(c.mean()), 6) for c in tensor],
    }


def pack_golden(images: Sequence[bytes], maps: np.ndarray) -> bytes:
    """The golden set's package member: the image files as shared and their anomaly maps."""
    arrays: dict[str, np.ndarray] = {"maps": np.asarray(maps, dtype=np.float32)}
    for i, data in enumerate(images):
        arrays[f"image_{i:03d}"] = np.frombuffer(data, dtype=np.uint8)
    out = io.BytesIO()
    np.savez_compressed(out, **arrays)  # type: ignore[arg-type]
    return out.getvalue()


def unpack_golden(data: bytes, max_bytes: int = MAX_GOLDEN_BYTES) -> tuple[list[bytes], np.ndarray]:
    """(image files, maps) of a golden member; ModelFileError when it is not one, or when
    it would unpack to more than ``max_bytes`` (a few compressed bytes can claim gigabytes:
    the sizes its zip directory declares are checked before anything is unpacked, and
    reading stops at them)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            infos = archive.infolist()
        if len(infos) > MAX_GOLDEN_MEMBERS:
            raise ModelFileError(f"the package's golden set holds {len(infos)} members")
        declared = sum(info.file_size for info in infos)
        if declared > max_bytes:
            raise ModelFileError(
                f"the package's golden set unpacks to {declared:,} bytes, "
                f"more than the {max_bytes:,} a golden set may hold"
            )
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            maps = np.asarray(npz["maps"], dtype=np.float32)
            names = sorted(k for k in npz.files if k.startswith("image_"))
            images = [npz[k].tobytes() for k in names]
    except (ValueError, OSError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        raise ModelFileError(f"the package's golden set is unreadable: {exc}") from exc
    if maps.ndim != 3 or len(maps) != len(images):
        raise ModelFileError("the package's golden set has a map per image missing")
    return images, maps


def golden_card(
    names: Sequence[str],
    files: Sequence[bytes],
    scores: np.ndarray,
    inputs: Sequence[dict[str, Any]],
) -> dict[str, Any]:
    """The signed part of a golden set: per image its name, file hash, expected score and
    input fingerprint; the publisher's versions; the tolerances a partner checks to."""
    return {
        "images": [
            {
                "name": str(name),
                "sha256": hashlib.sha256(data).hexdigest(),
                "score": float(score),
                "input": fingerprint,
            }
            for name, data, score, fingerprint in zip(names, files, scores, inputs, strict=True)
        ],
        "environment": environment(),
        "tolerance": {"score": SCORE_TOLERANCE, "map": MAP_TOLERANCE},
    }


def _rel(diff: float, scale: float) -> float:
    return abs(diff) / max(1.0, abs(scale))


def compare(
    golden: dict[str, Any],
    expected_maps: np.ndarray,
    scores: np.ndarray,
    maps: np.ndarray,
    inputs: Sequence[dict[str, Any]],
) -> dict[str, Any]:
    """Compare what this site made of the golden set with what the publisher recorded.

    Returns ``status`` ("ok" or "mismatch"), how far apart (``max_score_drift`` absolute,
    ``max_relative_score_drift``, ``max_map_drift``), ``cause`` in words when they differ,
    the images that differ, and both sides' versions.
    """
    items = list(golden.get("images") or [])
    tolerance = {
        "score": float((golden.get("tolerance") or {}).get("score", SCORE_TOLERANCE)),
        "map": float((golden.get("tolerance") or {}).get("map", MAP_TOLERANCE)),
    }
    if len(items) != len(scores) or len(items) != len(maps) or len(items) != len(inputs):
        raise ModelFileError("the golden set's card and its images do not match in number")
    site, publisher = environment(), dict(golden.get("environment") or {})
    per_image = []
    for i, item in enumerate(items):
        expected = float(item["score"])
        got = float(scores[i])
        want_map = np.asarray(expected_maps[i], dtype=np.float64)
        got_map = np.asarray(maps[i], dtype=np.float64)
        if want_map.shape != got_map.shape:
            map_drift = SHAPE_MISMATCH
        else:
            peak = float(np.abs(want_map).max()) if want_map.size else 0.0
            map_drift = _rel(float(np.abs(got_map - want_map).max()), peak)
        same_input = (item.get("input") or {}).get("sha256") == inputs[i].get("sha256")
        per_image.append(
            {
                "name": item.get("name"),
                "expected": expected,
                "got": got,
                "score_drift": got - expected,
                "score_ok": _rel(got - expected, expected) <= tolerance["score"],
                "map_drift": map_drift,
                "map_ok": map_drift <= tolerance["map"],
                "same_input": same_input,
                "input_mean_shift": _mean_shift(item.get("input") or {}, inputs[i]),
            }
        )
    scores_ok = all(p["score_ok"] for p in per_image)
    maps_ok = all(p["map_ok"] for p in per_image)
    drifts = [abs(p["score_drift"]) for p in per_image] or [0.0]
    relative = [_rel(p["score_drift"], p["expected"]) for p in per_image] or [0.0]
    out: dict[str, Any] = {
        "status": "ok" if scores_ok and maps_ok else "mismatch",
        "images": len(per_image),
        "max_score_drift": float(max(drifts)),
        "max_relative_score_drift": float(max(relative)),
        "max_map_drift": float(max((p["map_drift"] for p in per_image), default=0.0)),
        "cause": None,
        "differing": [p["name"] for p in per_image if not (p["score_ok"] and p["map_ok"])],
        "per_image": per_image,
        "environment": {"site": site, "publisher": publisher},
        "tolerance": tolerance,
    }
    if out["status"] != "ok":
        out["cause"] = likely_cause(per_image, maps_ok, site, publisher)
    return out


def _mean_shift(expected: dict[str, Any], got: dict[str, Any]) -> float | None:
    a, b = expected.get("mean"), got.get("mean")
    if not a or not b or len(a) != len(b):
        return None
    return float(max(abs(x - y) for x, y in zip(a, b, strict=True)))


def _version_note(site: dict[str, str], publisher: dict[str, str], name: str) -> str | None:
    if publisher.get(name) and site.get(name) and publisher[name] != site[name]:
        return f"{name} version differs: site {site[name]} vs publisher {publisher[name]}"
    return None


def likely_cause(
    per_image: list[dict[str, Any]],
    maps_ok: bool,
    site: dict[str, str],
    publisher: dict[str, str],
) -> str:
    """The likeliest reason a site's scores differ from the golden set, in words."""
    wrong = [p for p in per_image if not (p["score_ok"] and p["map_ok"])]
    names = ", ".join(str(p["name"]) for p in wrong[:5])
    if any(not p["same_input"] for p in per_image):
        shift = max((p["input_mean_shift"] or 0.0) for p in per_image)
        ratios = [p["got"] / p["expected"] for p in per_image if p["expected"]]
        factor = ""
        if len(ratios) >= 2:
            median = float(np.median(ratios))
            spread = float(np.std(ratios) / max(abs(median), 1e-12))
            if spread < SIMILAR_FACTOR_SPREAD and abs(median - 1) > SCORE_TOLERANCE:
                factor = f"every score off by a similar factor (×{median:.4f}); "
        note = _version_note(site, publisher, "pillow")
        return (
            f"{factor}image pre-processing differs (resize/colour): the model's input made "
            f"from the same golden image is not the publisher's (channel means moved by up to "
            f"{shift:.2e})" + (f"; {note}" if note else "")
        )
    if maps_ok:
        return (
            f"maps match but scores differ ({names}): a different threshold/graph for the "
            "image score, or a golden score the publisher recorded wrongly"
        )
    note = _version_note(site, publisher, "onnxruntime")
    if note:
        return f"{note}: the same input scores differently ({names})"
    return (
        f"the same input and runtime score differently ({names}): the model graph here is "
        "not the one the golden set was made with"
    )
