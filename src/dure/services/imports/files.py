"""Sensor and process files into the store, all or nothing (or without their bad rows)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from dure.domain.imports import ImportBatch
from dure.domain.plant import SensorChannel
from dure.domain.records import ProcessRecord
from dure.domain.times import from_us
from dure.domain.users import Role
from dure.errors import InvalidInput, RejectedFile
from dure.ingest.process_files import ProcessSchema, parse_process_file
from dure.ingest.sensor_files import ParsedReadings, parse_sensor_file
from dure.ingest.tables_in import RowErrors
from dure.store.repositories.sensor_readings import ReadingColumns
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
    assets = {a.name: a for a in session.assets.list_own()}
    channels = {(c.asset_id, c.name): c for c in session.channels.list_own()}
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
    parts = {p.number: p.id for p in session.parts.list_own()}
    lots = {lot.code: lot for lot in session.lots.list_own()}
    lines = {line.name: line.id for line in session.lines.list_own()}
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
    records = []
    for i in np.flatnonzero(keep).tolist():
        lot = lots.get(parsed.lot[i] or "")
        records.append(
            ProcessRecord(
                org_id=org,
                part_id=parts[parsed.part[i]],
                lot_id=lot.id if lot else None,
                serial=parsed.serial[i],
                line_id=lines.get(parsed.line[i] or ""),
                recorded_at=from_us(int(parsed.ts_us[i])),
                values=parsed.row_values(i),
                units=parsed.units,
            )
        )
    new = session.process_records.add_new(records)
    batch = _record_batch(session, "process_records", filename, sha256, len(parsed), errs)
    session.audit.record("import", "process_record", batch.id, detail={"rows_new": new})
    return ImportResult(batch, False, new)
