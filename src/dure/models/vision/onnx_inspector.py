"""Inspection on the line without torch: an edge bundle scored in onnxruntime.

An edge bundle (``edge_bundle.edge_bundle`` makes one from a taught ``Inspector``) is a
tar of the inspector's own scoring graph, the defect-type embedding as a second graph with
its linear head, and ``edge.json`` saying how to use them. ``OnnxInspector`` reproduces
``Inspector.inspect`` from it with numpy, Pillow and onnxruntime only: the same pixel
check, scores, verdicts and defect types. Regions and the heat-map picture need scipy and
stay on the site, which recomputes them from the raw map the edge forwards.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from dure.errors import ModelFileError
from dure.models.vision.pixels import ImageSpec, Shape, check_against, to_array
from dure.models.vision.scoring import OnnxScorer, Scores, onnx_session
from dure.models.vision.tiling import score_tiled

EDGE_FORMAT = "dure-edge/1"
MANIFEST = "edge.json"
SCORING = "scoring.onnx"
TYPES = "types.onnx"
HEAD_COEF = "head_coef.npy"
HEAD_INTERCEPT = "head_intercept.npy"
TYPE_MEMBERS = (TYPES, HEAD_COEF, HEAD_INTERCEPT)
#: The views of an image the defect-type head averages over, by name.
VIEWS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "id": lambda a: a,
    "lr": np.fliplr,
    "ud": np.flipud,
}
#: Images embedded per onnxruntime run for the defect type (bounds memory).
TYPE_BATCH = 32
#: The largest member a bundle may hold (a scoring graph with its memory bank is tens of MB).
MAX_MEMBER_BYTES = 1 << 30


@dataclass(frozen=True)
class EdgeFinding:
    """What the line-side inspector says about one image.

    ``raw_map`` is the anomaly map at the bundle's ``map_shape`` before it is divided by the
    map level and resized: ``pixels.heat_at(raw_map, map_level, h, w)`` is the site's heat map.
    """

    score: float
    threshold: float
    is_defect: bool
    defect_type: str | None
    type_confidence: float | None
    raw_map: np.ndarray


class OnnxInspector:
    """A taught inspector run from an edge bundle: numpy, Pillow and onnxruntime only."""

    def __init__(
        self,
        manifest: dict[str, Any],
        scoring: bytes,
        types: bytes | None = None,
        head: tuple[np.ndarray, np.ndarray] | None = None,
        threads: int | None = 1,
    ) -> None:
        self.manifest = manifest
        self.threshold = float(manifest["threshold"])
        self.map_level = float(manifest["map_level"])
        self.classes: list[str] = [str(c) for c in manifest["classes"]]
        self.input_shape: tuple[int, int] = _pair(manifest["input_shape"], "input_shape")
        self.map_shape: tuple[int, int] = _pair(manifest["map_shape"], "map_shape")
        self.tile: int | None = int(manifest["tile"]) if manifest.get("tile") else None
        self.image_spec: dict[str, Any] = dict(manifest.get("image_spec") or {})
        self._spec = ImageSpec(**self.image_spec) if self.image_spec else None
        self._scorer = OnnxScorer(scoring, self.input_shape, threads)
        self._types = onnx_session(types, threads) if types is not None else None
        self._head = head
        self.type_size: Shape = _pair(manifest.get("type_size") or 224, "type_size")
        self.type_views: list[str] = list(manifest.get("type_views") or ["id"])

    @classmethod
    def from_bundle(cls, data: bytes, threads: int | None = 1) -> OnnxInspector:
        """The inspector an edge bundle holds; ModelFileError for anything else (another
        format, a missing or changed member). ``threads`` pins onnxruntime's intra-op threads
        (1: the same bits as the site's graph on one thread, and no contention on the line)."""
        members = _read_tar(data)
        if MANIFEST not in members:
            raise ModelFileError(f"not an edge bundle: it has no {MANIFEST}")
        try:
            manifest = json.loads(members[MANIFEST])
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ModelFileError(f"the edge bundle's {MANIFEST} is not JSON: {exc}") from exc
        if not isinstance(manifest, dict) or manifest.get("format") != EDGE_FORMAT:
            found = manifest.get("format") if isinstance(manifest, dict) else None
            raise ModelFileError(
                f"the edge bundle's format is {found!r}; this runtime reads {EDGE_FORMAT!r}"
            )
        _check_manifest(manifest)
        wanted = [SCORING, *(TYPE_MEMBERS if manifest["classes"] else ())]
        missing = [name for name in wanted if name not in members]
        if missing:
            raise ModelFileError(f"the edge bundle lacks {', '.join(missing)}")
        for name, sha in dict(manifest.get("sha256") or {}).items():
            if name not in members:
                raise ModelFileError(f"the edge bundle lacks {name}")
            if hashlib.sha256(members[name]).hexdigest() != sha:
                raise ModelFileError(f"the edge bundle's {name} does not match edge.json")
        head = None
        if manifest["classes"]:
            head = (_npy(members, HEAD_COEF), _npy(members, HEAD_INTERCEPT))
            if head[0].shape[0] != len(manifest["classes"]) or head[1].shape != (
                len(manifest["classes"]),
            ):
                raise ModelFileError("the edge bundle's defect-type head does not fit its classes")
        types = members.get(TYPES) if manifest["classes"] else None
        try:
            return cls(manifest, members[SCORING], types, head, threads)
        except ModelFileError:
            raise
        except Exception as exc:  # onnxruntime refusing a graph, a malformed field
            raise ModelFileError(f"the edge bundle cannot be loaded: {exc}") from exc

    def score(self, images: Sequence[np.ndarray]) -> Scores:
        """Image scores and raw maps at ``map_shape`` (tiles stitched when the model tiles)."""
        if self.tile:
            return Scores(*score_tiled(self._scorer.score, images, self.tile, self.map_shape))
        return self._scorer.score(images)

    def type_proba(self, images: Sequence[np.ndarray]) -> np.ndarray:
        """Probability of each defect type (columns in ``classes`` order), logits averaged
        over the views, as the site's defect-type head gives them."""
        if self._types is None or self._head is None:
            return np.zeros((len(images), 0), np.float32)
        views = [
            np.ascontiguousarray(VIEWS[v](np.asarray(im))) for v in self.type_views for im in images
        ]
        parts = []
        for start in range(0, len(views), TYPE_BATCH):
            batch = to_array(views[start : start + TYPE_BATCH], self.type_size)
            parts.append(self._types.run(["embedding"], {"images": batch})[0])
        embedded = np.concatenate(parts).reshape(len(self.type_views), len(images), -1)
        coef, intercept = self._head
        logits = (embedded @ coef.T + intercept).mean(axis=0)
        logits -= logits.max(axis=1, keepdims=True)
        prob = np.exp(logits)
        return prob / prob.sum(axis=1, keepdims=True)  # type: ignore[no-any-return]

    def inspect(self, images: Sequence[np.ndarray], names: Sequence[str] = ()) -> list[EdgeFinding]:
        """A finding per image; the defect type only for images judged defective.

        Images unlike the taught ones raise InvalidInput naming the image (``names``).
        """
        if len(images) == 0:
            return []
        if self._spec is not None:
            check_against(self._spec, images, names)
        scores = self.score(images)
        flagged = [i for i, s in enumerate(scores.image) if s >= self.threshold]
        types: dict[int, tuple[str, float]] = {}
        if flagged and self._types is not None:
            proba = self.type_proba([images[i] for i in flagged])
            for i, row in zip(flagged, proba, strict=True):
                best = int(row.argmax())
                types[i] = (self.classes[best], float(row[best]))
        findings = []
        for i in range(len(images)):
            kind, confidence = types.get(i, (None, None))
            findings.append(
                EdgeFinding(
                    score=float(scores.image[i]),
                    threshold=self.threshold,
                    is_defect=i in flagged,
                    defect_type=kind,
                    type_confidence=confidence,
                    raw_map=np.ascontiguousarray(scores.maps[i], dtype=np.float32),
                )
            )
        return findings


def _read_tar(data: bytes) -> dict[str, bytes]:
    members: dict[str, bytes] = {}
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tar:
            for info in tar:
                if not info.isfile() or info.size > MAX_MEMBER_BYTES:
                    continue
                handle = tar.extractfile(info)
                if handle is not None:
                    members[info.name] = handle.read()
    except tarfile.TarError as exc:
        raise ModelFileError(f"not an edge bundle (not a readable tar): {exc}") from exc
    return members


def _check_manifest(manifest: dict[str, Any]) -> None:
    for key in ("input_shape", "map_shape", "threshold", "map_level", "classes"):
        if key not in manifest:
            raise ModelFileError(f"the edge bundle's edge.json lacks {key!r}")
    if not isinstance(manifest["classes"], list):
        raise ModelFileError("the edge bundle's edge.json: 'classes' must be a list")
    for key in ("threshold", "map_level"):
        if not isinstance(manifest[key], int | float) or not np.isfinite(manifest[key]):
            raise ModelFileError(f"the edge bundle's edge.json: {key!r} must be a number")
    if manifest["map_level"] <= 0:
        raise ModelFileError("the edge bundle's edge.json: 'map_level' must be above 0")
    views = manifest.get("type_views") or ["id"]
    unknown = [v for v in views if v not in VIEWS]
    if unknown:
        raise ModelFileError(f"the edge bundle's edge.json: unknown type_views {unknown}")


def _pair(value: Any, key: str) -> tuple[int, int]:
    if isinstance(value, int):
        return (value, value)
    try:
        height, width = (int(v) for v in value)
    except (TypeError, ValueError) as exc:
        raise ModelFileError(f"the edge bundle's edge.json: {key!r} must be [h, w]") from exc
    if height <= 0 or width <= 0:
        raise ModelFileError(f"the edge bundle's edge.json: {key!r} must be positive")
    return (height, width)


def _npy(members: dict[str, bytes], name: str) -> np.ndarray:
    try:
        array = np.load(io.BytesIO(members[name]), allow_pickle=False)
    except (ValueError, OSError) as exc:
        raise ModelFileError(f"the edge bundle's {name} is not a numpy array: {exc}") from exc
    return np.ascontiguousarray(array, dtype=np.float32)
