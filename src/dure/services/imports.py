"""Batch imports: sensor files, process files and image folders into the store, all or nothing."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

from dure.domain.ids import new_id, utcnow
from dure.domain.imports import ImportBatch
from dure.domain.parts import LabelledImage
from dure.domain.plant import SensorChannel
from dure.domain.times import from_us
from dure.domain.users import Role
from dure.errors import Conflict, InvalidInput, RejectedFile
from dure.ingest.image_folders import FolderImage, detect_layout, scan
from dure.ingest.images import ImageInfo, check_image, safe_filename
from dure.ingest.process_files import ProcessSchema, parse_process_file
from dure.ingest.sensor_files import ParsedReadings, parse_sensor_file
from dure.ingest.tables_in import RowErrors
from dure.services.inspections import store_blob
from dure.store import tables as t
from dure.store.repositories.records import natural_key
from dure.store.repositories.sensor_readings import ReadingColumns
from dure.store.scoped import Page
from dure.store.session import Session

ON_ERROR = ("reject", "skip")


@dataclass(frozen=True)
class ImportResult:
    """What an import did: the batch record, and whether the file was seen before."""

    batch: ImportBatch
    already_imported: bool
    rows_new: int


def _check_policy(on_error: str) -> None:
    if on_error not in ON_ERROR:
        raise InvalidInput(
            "on_error", f"{on_error!r}: use 'reject' (whole file) or 'skip' (bad rows)"
        )


def _previous(session: Session, kind: str, sha256: str) -> ImportBatch | None:
    found = session.imports.list(kind=kind, sha256=sha256).items
    return found[0] if found else None


def _settle(errors: RowErrors, filename: str, on_error: str) -> np.ndarray:
    """The mask of rows to keep, or RejectedFile under the 'reject' policy."""
    if errors.count and on_error == "reject":
        raise RejectedFile(filename, errors.summary(), [m.as_dict() for m in errors.messages])
    return ~errors.bad


def import_sensor_file(
    session: Session, data: bytes, filename: str, on_error: str = "reject"
) -> ImportResult:
    """Import readings; unknown channels of known assets are created with the file's unit."""
    _check_policy(on_error)
    session.imports.require_write()
    sha256 = hashlib.sha256(data).hexdigest()
    if (seen := _previous(session, "sensor_readings", sha256)) is not None:
        return ImportResult(seen, True, 0)
    parsed = parse_sensor_file(data, filename)
    channel_ids = _resolve_channels(session, parsed)
    keep = _settle(parsed.errors, filename, on_error)
    rows = parsed.keep(keep)
    columns = ReadingColumns(channel_ids, rows.pair_index, rows.ts_us, rows.values)
    new = session.readings.insert(columns)
    batch = _record_batch(session, "sensor_readings", filename, sha256, len(parsed), parsed.errors)
    return ImportResult(batch, False, new)


def _resolve_channels(session: Session, parsed: ParsedReadings) -> list[str]:
    assets = {a.name: a for a in _all(session.conn, t.assets, session.caller.org_id)}
    channels = {
        (c.asset_id, c.name): c
        for c in _all(session.conn, t.sensor_channels, session.caller.org_id)
    }
    ids: list[str] = []
    for code, (asset_name, channel_name, unit) in enumerate(parsed.pairs):
        rows = np.flatnonzero(parsed.pair_index == code)
        asset = assets.get(asset_name)
        if asset is None:
            if asset_name:
                parsed.errors.add(
                    rows,
                    parsed.filename,
                    "asset",
                    lambda i, a=asset_name: f"no asset named {a!r}; create it first",
                )
            ids.append("")
            continue
        channel = channels.get((asset.id, channel_name))
        if channel is None and channel_name and not session.caller.can(Role.ENGINEER):
            parsed.errors.add(
                rows,
                parsed.filename,
                "channel",
                lambda i, a=asset_name, c=channel_name: (
                    f"asset {a!r} has no channel "
                    f"{c!r}; an engineer can add it (or import this file once)"
                ),
            )
        elif channel is None and channel_name:
            channel = SensorChannel(
                org_id=asset.org_id, asset_id=asset.id, name=channel_name, unit=unit
            )
            session.channels.add(channel)
            channels[(asset.id, channel_name)] = channel
        elif channel is not None and unit and channel.unit and unit != channel.unit:
            parsed.errors.add(
                rows,
                parsed.filename,
                "unit",
                lambda i, c=channel, u=unit: (
                    f"channel {c.name!r} is recorded in {c.unit!r}, not {u!r}"
                ),
            )
        ids.append(channel.id if channel else "")
    return ids


def _all(conn, table, org_id):  # type: ignore[no-untyped-def]
    return conn.execute(select(table).where(table.c.org_id == org_id)).all()


def _record_batch(
    session: Session, kind: str, filename: str, sha256: str, total: int, errors: RowErrors
) -> ImportBatch:
    batch = ImportBatch(
        org_id=session.caller.org_id,
        kind=kind,
        filename=filename,
        sha256=sha256,
        rows_total=total,
        rows_accepted=total - errors.count,
        rows_rejected=errors.count,
        errors=[m.as_dict() for m in errors.messages],
    )
    return session.imports.add(batch)


def import_process_file(
    session: Session, data: bytes, filename: str, schema: ProcessSchema, on_error: str = "reject"
) -> ImportResult:
    """Import process records checked against ``schema``; part/lot/line are looked up by name."""
    _check_policy(on_error)
    session.imports.require_write()
    sha256 = hashlib.sha256(data).hexdigest()
    if (seen := _previous(session, "process_records", sha256)) is not None:
        return ImportResult(seen, True, 0)
    parsed = parse_process_file(data, filename, schema)
    org = session.caller.org_id
    parts = {r.number: r.id for r in _all(session.conn, t.part_numbers, org)}
    lots = {r.code: r for r in _all(session.conn, t.lots, org)}
    lines = {r.name: r.id for r in _all(session.conn, t.lines, org)}
    errs = parsed.errors
    for column, names, known in (
        ("part", parsed.part, parts),
        ("lot", parsed.lot, lots),
        ("line", parsed.line, lines),
    ):
        unknown = np.asarray(
            [i for i, n in enumerate(names) if n and n not in known], dtype=np.int64
        )
        errs.add(
            unknown,
            filename,
            column,
            lambda i, c=column, v=names: f"no {c} named {v[i]!r} in your organisation",
        )
    keep = _settle(errs, filename, on_error)
    now = utcnow()
    rows = []
    for i in np.flatnonzero(keep).tolist():
        part_id = parts[parsed.part[i]]
        lot = lots.get(parsed.lot[i] or "")
        at = from_us(int(parsed.ts_us[i]))
        rows.append(
            {
                "id": new_id(),
                "org_id": org,
                "part_id": part_id,
                "lot_id": lot.id if lot else None,
                "serial": parsed.serial[i],
                "line_id": lines.get(parsed.line[i] or ""),
                "recorded_at": at,
                "values": parsed.row_values(i),
                "units": parsed.units,
                "natural_key": natural_key(part_id, lot.id if lot else None, parsed.serial[i], at),
                "created_at": now,
            }
        )
    new = _insert_ignoring_duplicates(session, rows)
    batch = _record_batch(session, "process_records", filename, sha256, len(parsed), errs)
    session.audit.record("import", "process_record", batch.id, detail={"rows_new": new})
    return ImportResult(batch, False, new)


def _insert_ignoring_duplicates(session: Session, rows: list[dict[str, object]]) -> int:
    if not rows:
        return 0
    dialect = session.conn.dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = (
        insert(t.process_records)
        .on_conflict_do_nothing(index_elements=["org_id", "natural_key"])
        .returning(t.process_records.c.id)
    )
    new = 0
    for start in range(0, len(rows), 5000):
        # rowcount is unreliable for batched inserts; count what RETURNING hands back
        new += len(session.conn.execute(stmt, rows[start : start + 5000]).all())
    return new


@dataclass(frozen=True)
class ImageImportResult:
    """Counts of an image-folder import."""

    layout: str
    images_new: int
    images_seen: int
    by_label: dict[str, int]


def import_image_folder(
    session: Session,
    root: Path,
    part_id: str,
    layout: str = "auto",
    *,
    max_bytes: int,
    max_pixels: int,
) -> ImageImportResult:
    """Store every image (and mask) of a folder as labelled images of ``part_id``.

    All images are checked before any is stored: one damaged file rejects the import
    and names the file, so nothing is half-imported.
    """
    session.parts.get(part_id)
    items = scan(Path(root), layout)
    checked = []
    for item in items:
        data = item.path.read_bytes()
        info = check_image(data, str(item.path), max_bytes=max_bytes, max_pixels=max_pixels)
        mask = item.mask_path.read_bytes() if item.mask_path else None
        if mask is not None:
            check_image(mask, str(item.mask_path), max_bytes=max_bytes, max_pixels=max_pixels)
        checked.append((item, data, info, mask))
    new, seen, by_label = _store_labelled(session, part_id, checked)
    used = layout if layout != "auto" else detect_layout(Path(root))
    return ImageImportResult(used, new, seen, by_label)


def _store_labelled(
    session: Session,
    part_id: str,
    checked: list[tuple[FolderImage, bytes, ImageInfo, bytes | None]],
) -> tuple[int, int, dict[str, int]]:
    new = seen = 0
    by_label: dict[str, int] = {}
    for item, data, info, mask in checked:
        sha = store_blob(session, data, info.media_type, item.path.name)
        mask_sha = None
        if mask is not None and item.mask_path is not None:
            mask_sha = store_blob(session, mask, "image/png", item.mask_path.name)
        record = LabelledImage(
            org_id=session.caller.org_id,
            part_id=part_id,
            image_sha256=sha,
            split=item.split,
            label=item.label,
            mask_sha256=mask_sha,
            boxes=[list(b) for b in item.boxes],
            source_name=item.relative_name,
        )
        try:
            session.labelled_images.add(record)
            new += 1
        except Conflict:
            seen += 1
        by_label[item.label] = by_label.get(item.label, 0) + 1
    return new, seen, by_label


LABEL_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_\-]{0,63}$")


def check_label(session: Session, label: str, field: str = "label", good: bool = True) -> None:
    """InvalidInput naming ``field`` unless ``label`` is one of the caller's defect types
    (or ``good``, where ``good`` is allowed)."""
    if good and label == "good":
        return
    known = sorted({d.code for d in session.defect_types.list(Page(limit=1000)).items})
    if label not in known:
        raise InvalidInput(
            field,
            f"{label!r} is not in your defect taxonomy; use {'good or ' if good else ''}one of: "
            + (", ".join(known) or "(none yet: add types with POST /api/defect-types)"),
        )


def add_labelled_images(
    session: Session,
    part_id: str,
    files: list[tuple[str | None, bytes]],
    label: str,
    split: str = "train",
    *,
    max_bytes: int,
    max_pixels: int,
) -> ImageImportResult:
    """Store uploaded images of ``part_id`` with one label (``good`` or a defect type code).

    Every file is checked first; one bad file refuses the upload, naming it.
    """
    session.parts.get(part_id)
    if not LABEL_PATTERN.match(label):
        raise InvalidInput("label", f"{label!r}: use good or a defect type code like scratch")
    if split not in ("train", "test"):
        raise InvalidInput("split", f"{split!r}: use train or test")
    check_label(session, label)
    if not files:
        raise InvalidInput("images", "send at least one image")
    checked = []
    for filename, data in files:
        name = safe_filename(filename)
        info = check_image(data, name, max_bytes=max_bytes, max_pixels=max_pixels)
        checked.append((FolderImage(Path("upload") / name, split, label), data, info, None))
    new, seen, by_label = _store_labelled(session, part_id, checked)
    return ImageImportResult("upload", new, seen, by_label)
