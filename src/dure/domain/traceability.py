"""Traceability between a supplier and its OEM: what was shipped, and what the OEM found bad.

A ``Shipment`` is the supplier's delivery notice: which of its lots (and the serials in
them) of one of its part numbers went to which OEM, and the OEM's part number they are
delivered as. It belongs to the supplier (``org_id``) and is addressed to the OEM
(``oem_org_id``); once sent (``sent_at``) the OEM reads it too. A ``PartDefect`` is the
OEM's own record of parts found bad at incoming inspection, assembly or field return,
naming the supplier's lots and/or serials; it never leaves the OEM's organisation.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from dure.domain.ids import new_id, utcnow
from dure.errors import InvalidInput

MAX_CODE = 100  # lots.code, part numbers, serials
MAX_LOTS = 500
MAX_SERIALS = 10_000
MAX_QUANTITY = 1_000_000_000  # parts of one lot in one shipment
MAX_DEFECT_TYPE = 64
MAX_NOTE = 1000
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class DefectStage(StrEnum):
    """Where the OEM found a supplier's part bad."""

    INCOMING = "incoming"
    ASSEMBLY = "assembly"
    FIELD_RETURN = "field_return"


@dataclass(frozen=True, kw_only=True)
class ShippedLot:
    """One supplier lot in a shipment: its code, how many parts, and their serials if known."""

    code: str
    quantity: int | None = None
    serials: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        """Plain form (JSON column, wire, API)."""
        return {"code": self.code, "quantity": self.quantity, "serials": list(self.serials)}


@dataclass(kw_only=True)
class Shipment:
    """A supplier's shipment of one part number's lots to an OEM organisation."""

    org_id: str  # the supplier
    oem_org_id: str
    shipment_no: str  # the supplier's own shipment (delivery note) number
    part_number: str  # the supplier's part number
    oem_part_number: str  # the OEM's part number it is delivered as
    lots: list[dict[str, Any]]  # ShippedLot.as_dict() of each lot
    shipped_at: datetime
    part_id: str | None = None  # the supplier's part row (on the supplier's install)
    sent_at: datetime | None = None  # when the OEM was told (store or peer request)
    id: str = field(default_factory=new_id)
    created_at: datetime = field(default_factory=utcnow)

    def shipped_lots(self) -> list[ShippedLot]:
        """The lots as value objects."""
        return [
            ShippedLot(
                code=str(lot["code"]),
                quantity=lot.get("quantity"),
                serials=tuple(lot.get("serials") or ()),
            )
            for lot in self.lots
        ]

    def lot_codes(self) -> list[str]:
        """The codes of the lots shipped, in the order given."""
        return [str(lot["code"]) for lot in self.lots]

    def lot_of_serials(self) -> dict[str, str]:
        """Serial -> the code of the lot it was shipped in."""
        return {s: str(lot["code"]) for lot in self.lots for s in lot.get("serials") or ()}


@dataclass(kw_only=True)
class PartDefect:
    """The OEM's record of ``count`` supplier parts found bad at one stage."""

    org_id: str  # the OEM
    supplier_org_id: str
    stage: DefectStage
    defect_type: str
    found_at: datetime
    count: int = 1
    lot_codes: list[str] = field(default_factory=list)
    serials: list[str] = field(default_factory=list)
    oem_part_number: str | None = None
    note: str = ""
    id: str = field(default_factory=new_id)
    created_at: datetime = field(default_factory=utcnow)


# ---- validation (each error names the field) ----------------------------------------------
def check_code(value: Any, name: str, limit: int = MAX_CODE) -> str:
    """A non-empty code (lot, serial, part number) without control characters, trimmed."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(name, "must be a non-empty text")
    value = value.strip()
    if len(value) > limit:
        raise InvalidInput(name, f"is longer than {limit} characters")
    if _CONTROL.search(value):
        raise InvalidInput(name, "holds a control character")
    return value


def check_moment(value: Any, name: str) -> datetime:
    """An aware datetime (or ISO-8601 text with a zone)."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            raise InvalidInput(name, f"{value[:60]!r} is not an ISO-8601 time") from None
    if not isinstance(value, datetime):
        raise InvalidInput(name, "must be a time")
    if value.tzinfo is None:
        raise InvalidInput(name, "needs a time zone (e.g. +09:00 or Z)")
    try:  # the store keeps UTC: a time outside UTC's years would be stored as another
        value.astimezone(UTC)
    except OverflowError:
        raise InvalidInput(name, "lies outside the years 1 to 9999 in UTC") from None
    return value


def check_lots(lots: Any, name: str = "lots") -> list[ShippedLot]:
    """The lots of a shipment: at least one, codes unique, each serial in one lot only."""
    if not isinstance(lots, list) or not lots:
        raise InvalidInput(name, "name at least one lot")
    if len(lots) > MAX_LOTS:
        raise InvalidInput(name, f"at most {MAX_LOTS} lots per shipment")
    out: list[ShippedLot] = []
    seen_codes: set[str] = set()
    seen_serials: set[str] = set()
    for i, lot in enumerate(lots):
        where = f"{name}[{i}]"
        if isinstance(lot, ShippedLot):
            lot = lot.as_dict()
        if isinstance(lot, str):
            lot = {"code": lot}
        if not isinstance(lot, dict):
            raise InvalidInput(where, "must be a lot code or {code, quantity, serials}")
        code = check_code(lot.get("code"), f"{where}.code")
        if code in seen_codes:
            raise InvalidInput(f"{where}.code", f"lot {code!r} is named twice")
        seen_codes.add(code)
        quantity = lot.get("quantity")
        if quantity is not None and (
            isinstance(quantity, bool)
            or not isinstance(quantity, int)
            or not 1 <= quantity <= MAX_QUANTITY
        ):
            raise InvalidInput(
                f"{where}.quantity", f"must be a whole number from 1 to {MAX_QUANTITY:,}"
            )
        serials = check_serials(lot.get("serials") or [], f"{where}.serials")
        for serial in serials:
            if serial in seen_serials:
                raise InvalidInput(f"{where}.serials", f"serial {serial!r} is in two lots")
            seen_serials.add(serial)
        if quantity is not None and len(serials) > quantity:
            raise InvalidInput(
                f"{where}.serials", f"{len(serials)} serials for a quantity of {quantity}"
            )
        out.append(ShippedLot(code=code, quantity=quantity, serials=tuple(serials)))
    return out


def check_serials(serials: Any, name: str) -> list[str]:
    """A list of distinct serials."""
    if not isinstance(serials, list | tuple):
        raise InvalidInput(name, "must be a list of serials")
    if len(serials) > MAX_SERIALS:
        raise InvalidInput(name, f"at most {MAX_SERIALS} serials")
    out = [check_code(s, f"{name}[{i}]") for i, s in enumerate(serials)]
    if len(set(out)) != len(out):
        dup = next(s for s in out if out.count(s) > 1)
        raise InvalidInput(name, f"serial {dup!r} is named twice")
    return out


def check_codes(codes: Any, name: str) -> list[str]:
    """A list of distinct lot codes."""
    if not isinstance(codes, list | tuple):
        raise InvalidInput(name, "must be a list of lot codes")
    if len(codes) > MAX_LOTS:
        raise InvalidInput(name, f"at most {MAX_LOTS} lots")
    out = [check_code(c, f"{name}[{i}]") for i, c in enumerate(codes)]
    return list(dict.fromkeys(out))


def check_stage(value: Any, name: str = "stage") -> DefectStage:
    """One of incoming, assembly, field_return."""
    try:
        return DefectStage(str(value).strip())
    except ValueError:
        options = ", ".join(s.value for s in DefectStage)
        raise InvalidInput(
            name, f"{str(value)[:40]!r} is not a stage; use one of {options}"
        ) from None


def check_count(value: Any, name: str = "count") -> int:
    """A whole number of parts, at least 1."""
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidInput(name, f"{value!r} is not a whole number of at least 1")
    if value > 1_000_000:
        raise InvalidInput(name, "at most 1,000,000 parts in one record")
    return value


def check_note(value: Any, name: str = "note") -> str:
    """Free text up to MAX_NOTE characters (line breaks allowed)."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidInput(name, "must be text")
    if len(value) > MAX_NOTE:
        raise InvalidInput(name, f"is longer than {MAX_NOTE} characters")
    if re.search(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", value):
        raise InvalidInput(name, "holds a control character")
    return value


@dataclass(kw_only=True)
class LotTrace:
    """How many of the OEM's defects point to one supplier lot, and through what."""

    supplier_org_id: str
    lot_code: str
    part_number: str | None = None  # the supplier's part number (from the shipment)
    oem_part_number: str | None = None
    shipped_quantity: int | None = None
    defects: int = 0
    serials: list[str] = field(default_factory=list)  # defective serials named in this lot
    by_stage: dict[str, int] = field(default_factory=dict)
    by_type: dict[str, int] = field(default_factory=dict)
    defect_ids: list[str] = field(default_factory=list)
    shipment_ids: list[str] = field(default_factory=list)

    @property
    def ppm(self) -> float | None:
        """Defects per million parts shipped in the lot, when its quantity is known."""
        if not self.shipped_quantity:
            return None
        return round(1e6 * self.defects / self.shipped_quantity, 1)

    def as_dict(self) -> dict[str, Any]:
        """Plain form for JSON answers."""
        return {
            "supplier_org_id": self.supplier_org_id,
            "lot_code": self.lot_code,
            "part_number": self.part_number,
            "oem_part_number": self.oem_part_number,
            "shipped_quantity": self.shipped_quantity,
            "defects": self.defects,
            "ppm": self.ppm,
            "serials": self.serials,
            "by_stage": self.by_stage,
            "by_type": self.by_type,
            "defect_ids": self.defect_ids,
            "shipment_ids": self.shipment_ids,
        }
