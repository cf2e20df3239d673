"""Which supplier lots and serials the OEM's defects point to, and how many per lot.

This is the input of a root-cause request: for each supplier lot, the defects that name
it (directly, or through a serial shipped in it), by stage and defect type. A defect that
names several lots and no serials cannot be put on one of them: its parts are counted as
``unattributed`` for that supplier rather than guessed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from dure.domain.traceability import DefectStage, LotTrace, PartDefect, Shipment
from dure.store.session import Session


@dataclass
class SupplierTrace:
    """The lots of one supplier that the selected defects point to, most defects first."""

    supplier_org_id: str
    lots: list[LotTrace] = field(default_factory=list)
    unattributed: int = 0

    @property
    def defects(self) -> int:
        """Every defective part of this supplier in the selection."""
        return sum(lot.defects for lot in self.lots) + self.unattributed

    def as_dict(self) -> dict[str, Any]:
        """Plain form for JSON answers."""
        return {
            "supplier_org_id": self.supplier_org_id,
            "defects": self.defects,
            "unattributed": self.unattributed,
            "lots": [lot.as_dict() for lot in self.lots],
        }


def trace_defects(
    session: Session,
    *,
    supplier_org_id: str | None = None,
    defect_ids: list[str] | None = None,
    stage: DefectStage | str | None = None,
    defect_type: str | None = None,
) -> list[SupplierTrace]:
    """The supplier lots the caller's defects (all, or those selected) point to."""
    defects = session.part_defects.of_supplier(supplier_org_id)
    if defect_ids is not None:
        wanted = set(defect_ids)
        defects = [d for d in defects if d.id in wanted]
    if stage is not None:
        defects = [d for d in defects if d.stage == DefectStage(stage)]
    if defect_type is not None:
        defects = [d for d in defects if d.defect_type == defect_type]
    return trace_of(defects, session.shipments.received(supplier_org_id))


def trace_of(defects: list[PartDefect], shipments: list[Shipment]) -> list[SupplierTrace]:
    """Attribute ``defects`` to the lots of ``shipments`` (pure: no store)."""
    lots: dict[tuple[str, str], LotTrace] = {}
    serial_lot: dict[tuple[str, str], str] = {}
    for shipment in shipments:
        for lot in shipment.shipped_lots():
            key = (shipment.org_id, lot.code)
            trace = lots.setdefault(
                key,
                LotTrace(
                    supplier_org_id=shipment.org_id,
                    lot_code=lot.code,
                    part_number=shipment.part_number,
                    oem_part_number=shipment.oem_part_number,
                ),
            )
            trace.shipment_ids.append(shipment.id)
            if lot.quantity is not None:
                trace.shipped_quantity = (trace.shipped_quantity or 0) + lot.quantity
            for serial in lot.serials:
                serial_lot[(shipment.org_id, serial)] = lot.code
    hit: dict[tuple[str, str], LotTrace] = {}
    unattributed: dict[str, int] = {}
    for defect in defects:
        supplier = defect.supplier_org_id
        shares: dict[str, int] = {}
        for serial in defect.serials:
            code = serial_lot.get((supplier, serial))
            if code is not None:
                shares[code] = shares.get(code, 0) + 1
                _lot(lots, hit, supplier, code).serials.append(serial)
        rest = defect.count - sum(shares.values())
        spare = [c for c in defect.lot_codes if c not in shares] or list(defect.lot_codes)
        if rest > 0 and len(spare) == 1:
            shares[spare[0]] = shares.get(spare[0], 0) + rest
        elif rest > 0:
            unattributed[supplier] = unattributed.get(supplier, 0) + rest
        for code, n in shares.items():
            trace = _lot(lots, hit, supplier, code)
            trace.defects += n
            trace.by_stage[str(defect.stage)] = trace.by_stage.get(str(defect.stage), 0) + n
            trace.by_type[defect.defect_type] = trace.by_type.get(defect.defect_type, 0) + n
            if defect.id not in trace.defect_ids:
                trace.defect_ids.append(defect.id)
    out: dict[str, SupplierTrace] = {}
    for (supplier, _), trace in hit.items():
        out.setdefault(supplier, SupplierTrace(supplier)).lots.append(trace)
    for supplier, n in unattributed.items():
        out.setdefault(supplier, SupplierTrace(supplier)).unattributed = n
    for item in out.values():
        item.lots.sort(key=lambda t: (-t.defects, t.lot_code))
    return sorted(out.values(), key=lambda s: -s.defects)


def _lot(
    lots: dict[tuple[str, str], LotTrace],
    hit: dict[tuple[str, str], LotTrace],
    supplier: str,
    code: str,
) -> LotTrace:
    key = (supplier, code)
    if key not in hit:
        hit[key] = lots.get(key) or LotTrace(supplier_org_id=supplier, lot_code=code)
    return hit[key]
