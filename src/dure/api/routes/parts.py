"""Part numbers, lots, the defect taxonomy and labelled images."""

from __future__ import annotations

from fastapi import APIRouter

from dure.api.deps import PageDep, SessionDep
from dure.api.schemas import DefectTypeIn, LotIn, PartIn, PartPatch
from dure.domain.pages import Listing
from dure.domain.parts import DefectType, LabelledImage, Lot, PartNumber

router = APIRouter(tags=["parts"])


@router.get("/api/parts")
def list_parts(session: SessionDep, page: PageDep) -> Listing[PartNumber]:
    """Your part numbers."""
    return session.parts.list(page)


@router.post("/api/parts", status_code=201)
def add_part(body: PartIn, session: SessionDep) -> PartNumber:
    """Create a part number; a supplier may name the OEM part it makes."""
    return session.parts.add(PartNumber(org_id=session.caller.org_id, **body.model_dump()))


@router.get("/api/parts/{part_id}")
def get_part(part_id: str, session: SessionDep) -> PartNumber:
    """One of your part numbers."""
    return session.parts.get(part_id)


@router.patch("/api/parts/{part_id}")
def patch_part(part_id: str, body: PartPatch, session: SessionDep) -> PartNumber:
    """Rename one of your part numbers."""
    return session.parts.update_fields(part_id, **body.model_dump(exclude_none=True))


@router.get("/api/parts/{part_id}/images")
def list_part_images(
    part_id: str,
    session: SessionDep,
    page: PageDep,
    split: str | None = None,
    label: str | None = None,
) -> Listing[LabelledImage]:
    """Images with known truth of one part (for teaching and scoring)."""
    session.parts.get(part_id)
    return session.labelled_images.list(page, part_id=part_id, split=split, label=label)


@router.get("/api/lots")
def list_lots(session: SessionDep, page: PageDep, part_id: str | None = None) -> Listing[Lot]:
    """Your production lots."""
    return session.lots.list(page, part_id=part_id)


@router.post("/api/lots", status_code=201)
def add_lot(body: LotIn, session: SessionDep) -> Lot:
    """Open a lot of one of your parts."""
    return session.lots.add(Lot(org_id=session.caller.org_id, **body.model_dump()))


@router.get("/api/lots/{lot_id}")
def get_lot(lot_id: str, session: SessionDep) -> Lot:
    """One of your lots."""
    return session.lots.get(lot_id)


@router.get("/api/defect-types")
def list_defect_types(session: SessionDep, page: PageDep) -> Listing[DefectType]:
    """Your defect taxonomy, including what your OEMs publish to you."""
    return session.defect_types.list(page)


@router.post("/api/defect-types", status_code=201)
def add_defect_type(body: DefectTypeIn, session: SessionDep) -> DefectType:
    """Add a class to your organisation's defect taxonomy."""
    return session.defect_types.add(DefectType(org_id=session.caller.org_id, **body.model_dump()))
