"""Part numbers, production lots and the defect taxonomy."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from dure.domain.ids import new_id, utcnow


@dataclass(kw_only=True)
class PartNumber:
    """A part as an organisation knows it; a supplier's part may name the OEM part it makes."""

    org_id: str
    number: str
    name: str
    oem_part_id: str | None = None
    id: str = field(default_factory=new_id)
    created_at: datetime = field(default_factory=utcnow)


@dataclass(kw_only=True)
class Lot:
    """A batch of one part made on one line."""

    org_id: str
    part_id: str
    code: str
    line_id: str | None = None
    started_at: datetime | None = None
    quantity: int | None = None
    id: str = field(default_factory=new_id)
    created_at: datetime = field(default_factory=utcnow)


@dataclass(kw_only=True)
class DefectType:
    """A class in an OEM's defect taxonomy; suppliers of that OEM inherit it."""

    org_id: str
    code: str
    name: str
    description: str = ""
    severity: int = 2
    id: str = field(default_factory=new_id)
    created_at: datetime = field(default_factory=utcnow)


@dataclass(kw_only=True)
class LabelledImage:
    """An image with known truth for teaching and scoring: good, or a defect type with mask."""

    org_id: str
    part_id: str
    image_sha256: str
    split: str
    label: str
    mask_sha256: str | None = None
    boxes: list[list[object]] = field(default_factory=list)
    source_name: str = ""
    id: str = field(default_factory=new_id)
    created_at: datetime = field(default_factory=utcnow)


@dataclass(kw_only=True)
class ParameterSpec:
    """The engineering tolerance of one process parameter of a part (lower and/or upper
    specification limit), against which capability (Cpk) is measured."""

    org_id: str
    part_id: str
    parameter: str
    lower: float | None = None
    upper: float | None = None
    id: str = field(default_factory=new_id)
    created_at: datetime = field(default_factory=utcnow)
