"""Share grants, model versions and the audit log."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from dure.api.deps import CallerDep, PageDep, SessionDep, require
from dure.api.routes.collab import CollabDep
from dure.api.schemas import GrantIn, Instant
from dure.domain.audit import AuditEvent
from dure.domain.grants import ShareGrant
from dure.domain.model_versions import ModelVersion
from dure.domain.pages import Listing
from dure.domain.users import Caller, Role
from dure.services.collaboration import grants as shared_grants

router = APIRouter(tags=["sharing"])


@router.get("/api/grants")
def list_grants(session: SessionDep, page: PageDep) -> Listing[ShareGrant]:
    """Grants your organisation gave or received."""
    return session.grants.list(page)


@router.post("/api/grants", status_code=201)
def add_grant(body: GrantIn, caller: CallerDep, ctx: CollabDep) -> ShareGrant:
    """Let a linked organisation read or use some of your data (admins); uses are audited.

    A grantee on another install is told at once (and again at its next sync).
    """
    return shared_grants.create_grant(ctx, caller, body.model_dump())["grant"]


@router.get("/api/grants/{grant_id}")
def get_grant(grant_id: str, session: SessionDep) -> ShareGrant:
    """One grant you gave or received."""
    return session.grants.get(grant_id)


@router.delete("/api/grants/{grant_id}")
def revoke_grant(grant_id: str, caller: CallerDep, ctx: CollabDep) -> ShareGrant:
    """Revoke a grant you gave; it stops working at once, here and at the grantee's."""
    return shared_grants.revoke_grant(ctx, caller, grant_id)["grant"]


@router.get("/api/model-versions")
def list_model_versions(
    session: SessionDep, page: PageDep, part_id: str | None = None
) -> Listing[ModelVersion]:
    """Model versions: yours, and those an OEM shared with you for use."""
    return session.model_versions.list(page, part_id=part_id)


@router.get("/api/model-versions/{version_id}")
def get_model_version(version_id: str, session: SessionDep) -> ModelVersion:
    """One model version with its card."""
    return session.model_versions.get(version_id)


@router.get("/api/audit-events")
def list_audit_events(
    session: SessionDep,
    _admin: Annotated[Caller, Depends(require(Role.ADMIN))],
    page: PageDep,
    action: str | None = None,
    resource: str | None = None,
    resource_id: str | None = None,
    since: Instant | None = None,
) -> Listing[AuditEvent]:
    """Audit events about your organisation's data or done by it (admins)."""
    return session.audit_events.list(
        page, since=since, action=action, resource=resource, resource_id=resource_id
    )
