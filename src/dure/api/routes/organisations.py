"""Organisations and supplier links."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from dure.api.deps import SessionDep
from dure.api.schemas import OrgIn, SupplierLinkIn
from dure.domain.organisations import Organisation
from dure.services.platform.accounts import create_org

router = APIRouter(tags=["organisations"])


@router.get("/api/orgs")
def list_orgs(session: SessionDep) -> list[Organisation]:
    """Your organisation and those linked to it (an operator sees all)."""
    return session.organisations.list()


@router.post("/api/orgs", status_code=201)
def add_org(body: OrgIn, session: SessionDep) -> Organisation:
    """Create an organisation (platform operator admins only)."""
    return create_org(session, body.name, body.kind, body.slug)


@router.get("/api/orgs/{org_id}")
def get_org(org_id: str, session: SessionDep) -> Organisation:
    """One visible organisation."""
    return session.organisations.get(org_id)


@router.get("/api/orgs/{org_id}/suppliers")
def list_suppliers(org_id: str, session: SessionDep) -> list[Organisation]:
    """The suppliers linked to an OEM you can see."""
    return session.organisations.suppliers_of(org_id)


@router.post("/api/supplier-links", status_code=201)
def add_link(body: SupplierLinkIn, session: SessionDep) -> dict[str, Any]:
    """Link a supplier to an OEM (platform operator admins only); shares no data by itself."""
    link = session.organisations.link(body.oem_id, body.supplier_id)
    return {"id": link.id, "oem_id": link.oem_id, "supplier_id": link.supplier_id}
