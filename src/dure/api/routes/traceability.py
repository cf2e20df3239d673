"""Traceability: supplier shipments, the OEM's defect records (API and CSV), the trace."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Query, UploadFile
from pydantic import BaseModel, Field

from dure.api.deps import CallerDep, CollabDep, SessionDep, SettingsDep
from dure.api.schemas import NOT_BLANK, Instant, Text
from dure.api.uploads import read_upload
from dure.domain.traceability import DefectStage, PartDefect, Shipment
from dure.ingest.images import safe_filename
from dure.services.traceability import asking, shipments
from dure.services.traceability import defects as defect_records
from dure.services.traceability.trace import trace_defects
from dure.services.traceability.view import traceability_view

router = APIRouter(tags=["traceability"])

LotCode = Annotated[str, Field(min_length=1, max_length=100, pattern=NOT_BLANK)]


class LotIn(BaseModel):
    code: str = Field(description="one of your lot codes of the part")
    quantity: int | None = Field(None, description="parts of the lot in this shipment")
    serials: list[str] = Field(default_factory=list, description="serials shipped in the lot")


class ShipmentIn(BaseModel):
    oem_org_id: str = Field(description="the OEM the shipment goes to")
    shipment_no: str = Field(description="your shipment (delivery note) number")
    part_id: str = Field(description="your part the lots are of")
    lots: list[LotIn]
    shipped_at: Instant
    oem_part_number: str | None = Field(None, description="default: the OEM part yours names")
    send: bool = Field(False, description="send it to the OEM at once")


@router.post("/api/shipments", status_code=201)
def create_shipment(body: ShipmentIn, caller: CallerDep, ctx: CollabDep) -> Shipment:
    """Record a shipment of your lots to an OEM (and send it with ``send``)."""
    with ctx.store.session(caller) as session:
        shipment = shipments.record_shipment(
            session,
            oem_org_id=body.oem_org_id,
            shipment_no=body.shipment_no,
            part_id=body.part_id,
            lots=[lot.model_dump() for lot in body.lots],
            shipped_at=body.shipped_at,
            oem_part_number=body.oem_part_number,
        )
    if body.send:
        shipment = shipments.send_shipment(ctx, caller, shipment.id)
    return shipment


@router.post("/api/shipments/{shipment_id}/send")
def send_shipment(shipment_id: str, caller: CallerDep, ctx: CollabDep) -> Shipment:
    """Tell the OEM of one of your shipments (signed, when it is on another install)."""
    return shipments.send_shipment(ctx, caller, shipment_id)


@router.get("/api/shipments")
def list_shipments(session: SessionDep) -> list[Shipment]:
    """Your shipments and the shipments sent to you, newest first."""
    return shipments.list_shipments(session)


@router.get("/api/shipments/{shipment_id}")
def get_shipment(shipment_id: str, session: SessionDep) -> Shipment:
    """One of your shipments, or one sent to you."""
    return session.shipments.get(shipment_id)


class DefectIn(BaseModel):
    supplier_org_id: str
    stage: DefectStage
    defect_type: str
    found_at: Instant
    count: int | None = Field(None, description="default: the number of serials, or 1")
    lot_codes: list[str] = Field(default_factory=list)
    serials: list[str] = Field(default_factory=list)
    oem_part_number: str | None = None
    note: str = ""


@router.post("/api/part-defects", status_code=201)
def create_part_defect(body: DefectIn, session: SessionDep) -> PartDefect:
    """Record supplier parts found bad (incoming, assembly, field return)."""
    return defect_records.record_defect(session, **body.model_dump())


@router.post("/api/part-defects/import", status_code=201)
async def import_part_defects(
    session: SessionDep,
    settings: SettingsDep,
    file: Annotated[
        UploadFile,
        File(description="CSV: supplier, stage, defect_type, found_at, lots and/or serials"),
    ],
) -> dict[str, Any]:
    """Import defect records from CSV: all rows, or none (errors name row and column)."""
    data = await read_upload(file, settings.max_upload_bytes, "file")
    name = safe_filename(file.filename)
    stored = defect_records.import_defects_csv(session, data, name)
    return {"stored": len(stored), "ids": [d.id for d in stored]}


@router.get("/api/part-defects")
def list_part_defects(session: SessionDep, supplier_org_id: str | None = None) -> list[PartDefect]:
    """Your defect records, newest first."""
    return defect_records.list_defects(session, supplier_org_id)


@router.get("/api/part-defects/trace")
def trace(
    session: SessionDep,
    supplier_org_id: str | None = None,
    stage: DefectStage | None = None,
    defect_type: str | None = None,
    defect_id: Annotated[list[str] | None, Query(description="only these defects")] = None,
) -> list[dict[str, Any]]:
    """The supplier lots your defects point to, and how many defects per lot."""
    found = trace_defects(
        session,
        supplier_org_id=supplier_org_id,
        defect_ids=defect_id,
        stage=stage,
        defect_type=defect_type,
    )
    return [t.as_dict() for t in found]


class TracedAskIn(BaseModel):
    supplier_org_id: str = Field(description="the supplier whose traced lots you ask about")
    lots: list[LotCode] = Field(
        min_length=1,
        max_length=asking.MAX_ASKED,
        description="lot codes of the trace (the request names exactly these)",
    )
    note: Text = Field("", max_length=1000)


@router.post("/api/part-defects/trace/root-cause", status_code=201)
def ask_from_trace(body: TracedAskIn, caller: CallerDep, ctx: CollabDep) -> dict[str, Any]:
    """Ask the supplier why the selected traced lots were bad: a root-cause request whose
    defect type and place found come from the lots' defect records (engineers)."""
    sent = asking.ask_about_lots(ctx, caller, body.supplier_org_id, body.lots, body.note)
    return {"request": sent.request, "question": sent.question}


@router.get("/api/dashboard/traceability")
def traceability_page(session: SessionDep) -> dict[str, Any]:
    """The Traceability page in one read."""
    return traceability_view(session)
