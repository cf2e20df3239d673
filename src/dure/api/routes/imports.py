"""File imports of process records and sensor readings."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Form, UploadFile

from dure.api.deps import PageDep, SessionDep, SettingsDep
from dure.api.schemas import ImportOut
from dure.api.uploads import read_upload
from dure.domain.imports import ImportBatch
from dure.domain.pages import Listing
from dure.ingest.images import safe_filename
from dure.ingest.process_files import ProcessSchema
from dure.services.imports.files import ImportResult, import_process_file, import_sensor_file

router = APIRouter(tags=["imports"])


def _out(result: ImportResult) -> ImportOut:
    b = result.batch
    return ImportOut(
        batch_id=b.id,
        filename=b.filename,
        already_imported=result.already_imported,
        rows_total=b.rows_total,
        rows_accepted=b.rows_accepted,
        rows_rejected=b.rows_rejected,
        rows_new=result.rows_new,
        errors=b.errors,
    )


@router.post("/api/imports/sensor-readings", status_code=201)
async def import_sensor_readings(
    session: SessionDep,
    settings: SettingsDep,
    file: Annotated[
        UploadFile, File(description="CSV or Parquet: asset, channel, time, value[, unit]")
    ],
    on_error: Annotated[str, Form(pattern="^(reject|skip)$")] = "reject",
) -> ImportOut:
    """Import a file of sensor readings; 'reject' refuses the whole file on any bad row."""
    name = safe_filename(file.filename)
    data = await read_upload(file, settings.max_upload_bytes, "file")
    return _out(import_sensor_file(session, data, name, on_error))


@router.post("/api/imports/process-records", status_code=201)
async def import_process_records(
    session: SessionDep,
    settings: SettingsDep,
    file: Annotated[
        UploadFile, File(description="CSV or Parquet: part, time[, lot, serial, line], parameters")
    ],
    declared: Annotated[
        str, Form(alias="schema", description='JSON: {"parameters": {"name": {"unit": "kN"}}}')
    ],
    on_error: Annotated[str, Form(pattern="^(reject|skip)$")] = "reject",
) -> ImportOut:
    """Import process records checked against a declared schema of parameters and units."""
    name = safe_filename(file.filename)
    data = await read_upload(file, settings.max_upload_bytes, "file")
    schema = ProcessSchema.from_json(declared, "schema")
    return _out(import_process_file(session, data, name, schema, on_error))


@router.get("/api/imports")
def list_imports(session: SessionDep, page: PageDep) -> Listing[ImportBatch]:
    """Files imported by your organisation, newest first."""
    return session.imports.list(page)


@router.get("/api/imports/{batch_id}")
def get_import(batch_id: str, session: SessionDep) -> dict[str, Any]:
    """One import with its row counts and first errors."""
    return session.imports.get(batch_id).__dict__
