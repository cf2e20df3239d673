"""Edge boxes and what they send: an inspection decided on the line, forwarded to the site.

An edge box (``dure edge``) inspects next to the line with a signed model package, emits
its verdict there, and later forwards each result to its site, which keeps exactly one
inspection record per result: ``source_key(edge_id, rid)``. ``EdgeResult`` is the wire
form of one result, shared by the box (``to_wire``) and the site (``from_wire``); it
holds plain Python values only (the anomaly map as little-endian float32 bytes).
"""

from __future__ import annotations

import array
import base64
import binascii
import json
import math
import re
import struct
import sys
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from dure.domain.ids import new_id, utcnow
from dure.errors import InvalidInput

# An image's result id: 32 lowercase hex characters, chosen by the box (deterministic there)
RID_PATTERN = re.compile(r"^[0-9a-f]{32}$")
EDGE_PACKAGE_FORMAT = "dure-edge/1"
MAX_RESULTS_PER_POST = 8
MAX_SERIAL = 100  # inspection_records.serial
MAX_NAME = 200
MAX_ID = 64
MAX_DEFECT_TYPE = 64  # inspection_records.defect_type
MAX_MAP_SIDE = 1024


# What the site signs in a model pointer (with the org's key the box pinned at enrolment)
POINTER_SIGNED = ("edge_id", "package_id", "sha256", "model_version_id", "assignment", "issued_at")


def pointer_message(pointer: dict[str, Any]) -> bytes:
    """The bytes a model pointer's signature covers: its signed fields as canonical JSON
    (a field left out counts as null, so it cannot be dropped unnoticed)."""
    fields = {name: pointer.get(name) for name in POINTER_SIGNED}
    return json.dumps(fields, sort_keys=True, separators=(",", ":")).encode()


def all_finite_f32(data: bytes) -> bool:
    """True when every little-endian float32 in ``data`` is finite, in one C-level pass
    (no per-value Python): their sum in double precision is finite exactly then, as even
    MAX_MAP_SIDE² float32 maxima (≈ 3.6e44) stay far below the double's range."""
    values = array.array("f", data)
    if sys.byteorder == "big":
        values.byteswap()
    return math.isfinite(sum(values))


def source_key(edge_id: str, rid: str) -> str:
    """The inspection record's once-only key for result ``rid`` of edge box ``edge_id``."""
    return f"edge:{edge_id}:{rid}"


@dataclass(kw_only=True)
class EdgeDevice:
    """An edge box registered with its site: its public key, and where and with what
    model it inspects."""

    org_id: str
    name: str
    public_pem: str
    station_id: str | None = None
    part_id: str | None = None
    model_version_id: str | None = None
    last_seen_at: datetime | None = None
    results_received: int = 0
    # grows by one each time the package the box should run changes (signed in the pointer)
    assignment: int = 0
    assigned_package_id: str | None = None
    retired_at: datetime | None = None  # a retired box's posts and model reads are refused
    # the box's last parity report (package_id, status, drifts, cause, checked_at)
    parity: dict[str, Any] | None = None
    id: str = field(default_factory=new_id)
    created_at: datetime = field(default_factory=utcnow)


@dataclass(kw_only=True)
class EdgePackage:
    """A signed edge package the site built from one model version at one threshold."""

    org_id: str
    model_version_id: str
    threshold_key: str  # the threshold as text, or "model" for the model's own
    package_sha256: str
    size: int
    map_level: float
    id: str = field(default_factory=new_id)
    created_at: datetime = field(default_factory=utcnow)


def threshold_key(threshold: float | None) -> str:
    """The text an edge package's threshold is kept (and looked up) by."""
    return "model" if threshold is None else repr(float(threshold))


@dataclass(frozen=True, kw_only=True)
class EdgeResult:
    """One inspection made on an edge box, as it travels to the site."""

    rid: str
    package_id: str
    model_version_id: str
    serial: str
    taken_at: datetime
    image: bytes
    image_filename: str
    score: float
    threshold: float
    is_defect: bool
    defect_type: str | None
    type_confidence: float | None
    map_shape: tuple[int, int]
    map_bytes: bytes  # float32 little-endian, row-major, map_shape[0] * map_shape[1] values
    latency_ms: float | None = None

    def to_wire(self) -> dict[str, Any]:
        """The JSON-ready dict a box posts in ``results`` (the inverse of ``from_wire``)."""
        return {
            "rid": self.rid,
            "package_id": self.package_id,
            "model_version_id": self.model_version_id,
            "serial": self.serial,
            "taken_at": self.taken_at.isoformat(),
            "image_b64": base64.b64encode(self.image).decode("ascii"),
            "image_filename": self.image_filename,
            "score": float(self.score),
            "threshold": float(self.threshold),
            "is_defect": bool(self.is_defect),
            "defect_type": self.defect_type,
            "type_confidence": (
                None if self.type_confidence is None else float(self.type_confidence)
            ),
            "raw_map": {
                "shape": [int(self.map_shape[0]), int(self.map_shape[1])],
                "b64": base64.b64encode(self.map_bytes).decode("ascii"),
            },
            "latency_ms": None if self.latency_ms is None else float(self.latency_ms),
        }

    @classmethod
    def from_wire(cls, data: Any, index: int = 0) -> EdgeResult:
        """The result a box posted as ``results[index]``; InvalidInput naming
        ``results[index].<field>`` when a field is missing or wrong."""
        where = f"results[{index}]"
        if not isinstance(data, dict):
            raise InvalidInput(where, "must be an object")
        fields = _Fields(data, where)
        rid = fields.text("rid", MAX_ID)
        if not RID_PATTERN.match(rid):
            raise InvalidInput(f"{where}.rid", "must be 32 lowercase hex characters")
        shape, map_bytes = fields.raw_map()
        score, threshold = fields.number("score"), fields.number("threshold")
        is_defect = fields.flag("is_defect")
        if is_defect not in _judged(score, threshold):
            raise InvalidInput(
                f"{where}.is_defect",
                f"must be {score >= threshold}: the box judges a score at or above its "
                f"threshold a defect (score {score}, threshold {threshold})",
            )
        return cls(
            rid=rid,
            package_id=fields.text("package_id", MAX_ID),
            model_version_id=fields.text("model_version_id", MAX_ID),
            serial=fields.text("serial", MAX_SERIAL),
            taken_at=fields.moment("taken_at"),
            image=fields.b64("image_b64"),
            image_filename=fields.text("image_filename", MAX_NAME),
            score=score,
            threshold=threshold,
            is_defect=is_defect,
            defect_type=fields.optional_text("defect_type", MAX_DEFECT_TYPE),
            type_confidence=fields.confidence("type_confidence"),
            map_shape=shape,
            map_bytes=map_bytes,
            latency_ms=fields.optional_number("latency_ms"),
        )


def _float32(value: float) -> float:
    return float(struct.unpack("<f", struct.pack("<f", value))[0])


def _judged(score: float, threshold: float) -> set[bool]:
    """The verdicts a box may have reached for ``score`` at ``threshold`` (score >= threshold;
    the box may compare in float32, which can differ right at the threshold)."""
    try:
        narrow = _float32(score) >= _float32(threshold)
    except OverflowError:  # beyond float32: the box cannot have sent it, compare as is
        narrow = score >= threshold
    return {score >= threshold, narrow}


class _Fields:
    """Reads typed fields out of one posted result, naming the field in each error."""

    def __init__(self, data: dict[str, Any], where: str) -> None:
        self.data = data
        self.where = where

    def _bad(self, name: str, reason: str) -> InvalidInput:
        return InvalidInput(f"{self.where}.{name}", reason)

    def _get(self, name: str) -> Any:
        if name not in self.data:
            raise self._bad(name, "is missing")
        return self.data[name]

    def text(self, name: str, limit: int) -> str:
        value = self._get(name)
        if not isinstance(value, str) or not value.strip():
            raise self._bad(name, "must be a non-empty string")
        if len(value) > limit:
            raise self._bad(name, f"is longer than {limit} characters")
        if any(ord(c) < 32 and c not in "\t\n\r" or ord(c) == 127 for c in value):
            raise self._bad(name, "holds a control character")
        return value

    def optional_text(self, name: str, limit: int) -> str | None:
        return None if self.data.get(name) is None else self.text(name, limit)

    def number(self, name: str) -> float:
        value = self._get(name)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self._bad(name, "must be a number")
        if not math.isfinite(value):
            raise self._bad(name, "must be finite")
        return float(value)

    def optional_number(self, name: str) -> float | None:
        return None if self.data.get(name) is None else self.number(name)

    def confidence(self, name: str) -> float | None:
        value = self.optional_number(name)
        if value is not None and not 0.0 <= value <= 1.0:
            raise self._bad(name, "must lie between 0 and 1")
        return value

    def flag(self, name: str) -> bool:
        value = self._get(name)
        if not isinstance(value, bool):
            raise self._bad(name, "must be true or false")
        return value

    def moment(self, name: str) -> datetime:
        value = self.text(name, 64)
        try:
            moment = datetime.fromisoformat(value)
        except ValueError as exc:
            raise self._bad(name, f"is not an ISO-8601 time: {value!r}") from exc
        if moment.tzinfo is None:
            raise self._bad(name, "needs a time zone (e.g. +09:00 or Z)")
        return moment

    def b64(self, name: str) -> bytes:
        return self.decode(name, self._get(name))

    def decode(self, label: str, raw: Any) -> bytes:
        if not isinstance(raw, str) or not raw:
            raise self._bad(label, "must be non-empty base64 text")
        try:
            decoded = base64.b64decode(raw, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise self._bad(label, "is not valid base64") from exc
        if not decoded:
            raise self._bad(label, "is empty")
        return decoded

    def raw_map(self) -> tuple[tuple[int, int], bytes]:
        value = self._get("raw_map")
        if not isinstance(value, dict):
            raise self._bad("raw_map", "must be an object with shape and b64")
        shape = value.get("shape")
        if (
            not isinstance(shape, list)
            or len(shape) != 2
            or any(isinstance(s, bool) or not isinstance(s, int) for s in shape)
            or not all(1 <= s <= MAX_MAP_SIDE for s in shape)
        ):
            raise self._bad("raw_map.shape", f"must be [height, width], each 1..{MAX_MAP_SIDE}")
        data = self.decode("raw_map.b64", value.get("b64"))
        height, width = shape
        if len(data) != height * width * 4:
            raise self._bad(
                "raw_map.b64",
                f"holds {len(data)} bytes; a {height}x{width} float32 map needs "
                f"{height * width * 4}",
            )
        if not all_finite_f32(data):
            raise self._bad("raw_map.b64", "holds a value that is not finite")
        return (height, width), data
