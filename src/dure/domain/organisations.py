"""Organisations (OEM, supplier, platform operator) and the links between them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from dure.domain.ids import new_id, utcnow


class OrgKind(StrEnum):
    """What an organisation is on the platform."""

    OEM = "oem"
    SUPPLIER = "supplier"
    OPERATOR = "operator"


@dataclass(kw_only=True)
class Organisation:
    """A company (or an industrial complex's AI centre) with its own walled-off data."""

    name: str
    kind: OrgKind
    slug: str
    id: str = field(default_factory=new_id)
    created_at: datetime = field(default_factory=utcnow)


@dataclass(kw_only=True)
class SupplierLink:
    """A supplier delivering parts to an OEM; visible to both, grants no data access."""

    oem_id: str
    supplier_id: str
    id: str = field(default_factory=new_id)
    created_at: datetime = field(default_factory=utcnow)
