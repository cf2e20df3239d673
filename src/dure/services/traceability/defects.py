"""The OEM's records of supplier parts found bad, by API or by CSV file.

A defect names the supplier's lots and/or serials; each must have reached the OEM in a
shipment of that supplier (so the trace to lots is never a guess). A CSV file is checked
whole first: any bad cell refuses the file, naming row and column, and nothing is stored.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from dure.domain.organisations import OrgKind
from dure.domain.traceability import (
    MAX_DEFECT_TYPE,
    PartDefect,
    Shipment,
    check_code,
    check_codes,
    check_count,
    check_moment,
    check_note,
    check_serials,
    check_stage,
)
from dure.errors import InvalidInput, RejectedFile
from dure.ingest.tables_in import MAX_REPORTED_ERRORS, RowError
from dure.store.session import Session

MAX_CSV_ROWS = 20_000
CSV_COLUMNS = (
    "supplier",
    "stage",
    "defect_type",
    "found_at",
    "count",
    "lots",
    "serials",
    "part_number",
    "note",
)
REQUIRED_COLUMNS = ("supplier", "stage", "defect_type", "found_at")
# the API's field names, as the CSV's columns name them
_COLUMN_OF = {
    "supplier_org_id": "supplier",
    "lot_codes": "lots",
    "oem_part_number": "part_number",
}
_SPLIT = re.compile(r"[;\s]+")


@dataclass
class Received:
    """What one OEM received from its suppliers: lot codes and serial -> lot, per supplier."""

    lots: dict[str, set[str]]
    serial_lot: dict[str, dict[str, str]]

    @classmethod
    def of(cls, shipments: list[Shipment]) -> Received:
        """Index the shipments sent to the caller."""
        lots: dict[str, set[str]] = {}
        serial_lot: dict[str, dict[str, str]] = {}
        for shipment in shipments:
            lots.setdefault(shipment.org_id, set()).update(shipment.lot_codes())
            serial_lot.setdefault(shipment.org_id, {}).update(shipment.lot_of_serials())
        return cls(lots, serial_lot)


def build_defect(
    session: Session,
    received: Received,
    *,
    supplier_org_id: str,
    stage: Any,
    defect_type: Any,
    found_at: datetime | str,
    count: Any = None,
    lot_codes: Any = None,
    serials: Any = None,
    oem_part_number: Any = None,
    note: Any = None,
) -> PartDefect:
    """A checked defect record (not stored); InvalidInput names the first bad field."""
    kind = check_code(defect_type, "defect_type", MAX_DEFECT_TYPE)
    known = {d.code for d in session.defect_types.list_own()}
    if known and kind not in known:
        raise InvalidInput("defect_type", f"{kind!r} is not in your taxonomy: {sorted(known)}")
    lots = check_codes(lot_codes or [], "lot_codes")
    named = check_serials(serials or [], "serials")
    if not lots and not named:
        raise InvalidInput("lot_codes", "name the supplier's lots, serials or both")
    shipped_lots = received.lots.get(supplier_org_id, set())
    for i, code in enumerate(lots):
        if code not in shipped_lots:
            raise InvalidInput(f"lot_codes[{i}]", f"lot {code!r} was not shipped to you by them")
    serial_lot = received.serial_lot.get(supplier_org_id, {})
    for i, serial in enumerate(named):
        if serial not in serial_lot:
            raise InvalidInput(f"serials[{i}]", f"serial {serial!r} is in no shipment from them")
    if count is None or count == "":
        count = max(len(named), 1)
    number = check_count(count)
    if number < len(named):
        raise InvalidInput("count", f"{number} is fewer than the {len(named)} serials named")
    return PartDefect(
        org_id=session.caller.org_id,
        supplier_org_id=supplier_org_id,
        stage=check_stage(stage),
        defect_type=kind,
        found_at=check_moment(found_at, "found_at"),
        count=number,
        lot_codes=lots,
        serials=named,
        oem_part_number=(
            None
            if oem_part_number in (None, "")
            else check_code(oem_part_number, "oem_part_number")
        ),
        note=check_note(note),
    )


def _supplier(session: Session, supplier_org_id: str, field: str = "supplier_org_id") -> str:
    """``supplier_org_id`` when it is a supplier linked to the caller."""
    suppliers = _suppliers(session)
    if supplier_org_id not in suppliers.values():
        raise InvalidInput(field, f"{supplier_org_id!r} is not a supplier linked to you")
    return supplier_org_id


AMBIGUOUS = ""  # a name (or slug) that more than one linked supplier answers to


def _suppliers(session: Session) -> dict[str, str]:
    """Slug, name and id of each linked supplier -> its id; AMBIGUOUS for a key that two
    suppliers share (a partner install names itself as it likes: never guess between them)."""
    out: dict[str, str] = {}
    for org in session.organisations.list():
        if org.kind == OrgKind.SUPPLIER and org.id != session.caller.org_id:
            for key in {org.id.casefold(), org.slug.casefold(), org.name.casefold()}:
                out[key] = org.id if out.get(key, org.id) == org.id else AMBIGUOUS
    return out


def record_defect(session: Session, *, supplier_org_id: str, **fields: Any) -> PartDefect:
    """Keep one defect record of the caller (the OEM) against a linked supplier."""
    session.part_defects.require_write()
    supplier = _supplier(session, supplier_org_id)
    received = Received.of(session.shipments.received(supplier))
    defect = build_defect(session, received, supplier_org_id=supplier, **fields)
    return session.part_defects.add(defect)


def import_defects_csv(
    session: Session, data: bytes, filename: str = "defects.csv"
) -> list[PartDefect]:
    """Keep every defect of a CSV file, or none: RejectedFile lists bad cells by row
    (1-based, header not counted) and column. Columns: supplier (short name, name or id),
    stage, defect_type, found_at, and lots and/or serials (separated by ``;`` or spaces);
    count, part_number and note are optional."""
    session.part_defects.require_write()
    rows = _read_rows(data, filename)
    suppliers = _suppliers(session)
    received = Received.of(session.shipments.received())
    errors: list[RowError] = []
    defects: list[PartDefect] = []
    for n, row in enumerate(rows, 1):
        supplier_name = (row.get("supplier") or "").strip()
        supplier = suppliers.get(supplier_name.casefold())
        if supplier == AMBIGUOUS:
            errors.append(
                RowError(
                    filename,
                    n,
                    "supplier",
                    f"{supplier_name!r} names more than one linked supplier: use its short "
                    "name or id",
                )
            )
            continue
        if supplier is None:
            errors.append(
                RowError(
                    filename, n, "supplier", f"{supplier_name!r} is not a supplier linked to you"
                )
            )
            continue
        try:
            defects.append(
                build_defect(
                    session,
                    received,
                    supplier_org_id=supplier,
                    stage=row.get("stage"),
                    defect_type=row.get("defect_type"),
                    found_at=(row.get("found_at") or "").strip(),
                    count=_whole(row.get("count")),
                    lot_codes=_items(row.get("lots")),
                    serials=_items(row.get("serials")),
                    oem_part_number=(row.get("part_number") or "").strip() or None,
                    note=row.get("note") or "",
                )
            )
        except InvalidInput as bad:
            errors.append(RowError(filename, n, _column(bad.field), bad.reason))
    if errors:
        first = errors[0]
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise RejectedFile(
            filename,
            f"row {first.row}, column {first.column!r}: {first.reason}{more}",
            [e.as_dict() for e in errors[:MAX_REPORTED_ERRORS]],
        )
    return session.part_defects.add_all(defects)


def _read_rows(data: bytes, filename: str) -> list[dict[str, str]]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInput("file", f"{filename}: not UTF-8 text") from None
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip() for h in reader.fieldnames or []]
    if not header:
        raise InvalidInput("file", f"{filename}: the file is empty")
    reader.fieldnames = header
    unknown = [h for h in header if h not in CSV_COLUMNS]
    if unknown:
        raise InvalidInput(
            "file", f"{filename}: unknown column {unknown[0]!r}; use {', '.join(CSV_COLUMNS)}"
        )
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise InvalidInput("file", f"{filename}: column {missing[0]!r} is missing")
    if "lots" not in header and "serials" not in header:
        raise InvalidInput("file", f"{filename}: give a 'lots' or a 'serials' column")
    try:
        rows = list(reader)
    except csv.Error as exc:
        raise InvalidInput("file", f"{filename}, row {reader.line_num - 1}: {exc}") from None
    if not rows:
        raise InvalidInput("file", f"{filename}: the file has a header but no rows")
    if len(rows) > MAX_CSV_ROWS:
        raise InvalidInput("file", f"{filename}: at most {MAX_CSV_ROWS} rows per file")
    for n, row in enumerate(rows, 1):
        if None in row:
            raise RejectedFile(
                filename,
                f"row {n} has more cells than the header",
                [RowError(filename, n, "(extra)", "more cells than the header").as_dict()],
            )
    return rows


def _items(cell: str | None) -> list[str]:
    return [item for item in _SPLIT.split(cell or "") if item]


def _whole(cell: str | None) -> Any:
    text = (cell or "").strip()
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        return text  # check_count names it


def _column(field: str) -> str:
    """The CSV column an API field error belongs to (``lot_codes[2]`` -> ``lots``)."""
    base = field.split("[", 1)[0].split(".", 1)[0]
    return _COLUMN_OF.get(base, base)


def list_defects(session: Session, supplier_org_id: str | None = None) -> list[PartDefect]:
    """The caller's defect records (of one supplier, or all), newest first."""
    items = session.part_defects.of_supplier(supplier_org_id)
    return sorted(items, key=lambda d: d.found_at, reverse=True)
