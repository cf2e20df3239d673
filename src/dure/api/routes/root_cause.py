"""Root-cause requests between companies, as the OEM's and the supplier's users see them."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from dure.api.deps import CallerDep, CollabDep, SessionDep, require
from dure.api.schemas import NOT_BLANK, Text
from dure.domain.grants import ShareGrant
from dure.domain.root_cause import FoundAt, RootCauseRequest
from dure.domain.users import Caller, Role
from dure.services.collaboration import root_cause
from dure.services.collaboration.root_cause_views import root_cause_view

router = APIRouter(tags=["root cause"])

AdminDep = Annotated[Caller, Depends(require(Role.ADMIN))]
Code = Annotated[str, Field(min_length=1, max_length=100, pattern=NOT_BLANK)]
MAX_LIST = root_cause.MAX_NAMED // 2


class RootCauseIn(BaseModel):
    supplier_org_id: str = Field(description="the supplier to ask (it must grant root_cause)")
    lots: list[Code] = Field(
        default_factory=list, max_length=MAX_LIST, description="the supplier's lot codes"
    )
    serials: list[Code] = Field(
        default_factory=list, max_length=MAX_LIST, description="the supplier's serials"
    )
    defect_type: Code | None = None
    found_at: FoundAt | None = None
    note: Text = Field(default="", max_length=1000)


class ReviewIn(BaseModel):
    review_before_send: bool = Field(description="an admin approves each answer before it leaves")


@router.post("/api/root-cause/requests", status_code=201)
def ask_supplier(body: RootCauseIn, caller: CallerDep, ctx: CollabDep) -> RootCauseRequest:
    """Ask a supplier why named lots or serials were bad; it answers with aggregates only
    (at once, or after its admin's review); a refusal is kept with its reason."""
    fields = body.model_dump(exclude={"supplier_org_id"})
    return root_cause.ask(ctx, caller, body.supplier_org_id, fields)


@router.get("/api/root-cause/requests")
def list_requests(session: SessionDep) -> list[RootCauseRequest]:
    """Every root-cause request your organisation asked or was asked."""
    return session.root_cause.list_all()


@router.post("/api/root-cause/requests/{root_cause_id}/approve")
def approve_answer(root_cause_id: str, caller: AdminDep, ctx: CollabDep) -> RootCauseRequest:
    """Send an answer that waits for review, exactly as shown (admins)."""
    return root_cause.decide(ctx, caller, root_cause_id, True)


@router.post("/api/root-cause/requests/{root_cause_id}/decline")
def decline_answer(root_cause_id: str, caller: AdminDep, ctx: CollabDep) -> RootCauseRequest:
    """Decline to answer; the OEM is told, without any figures (admins)."""
    return root_cause.decide(ctx, caller, root_cause_id, False)


@router.put("/api/grants/{grant_id}/review-before-send")
def set_review(grant_id: str, body: ReviewIn, caller: AdminDep, ctx: CollabDep) -> ShareGrant:
    """Auto-answer or review-before-send for a root_cause grant you gave (admins)."""
    return root_cause.set_review(ctx, caller, grant_id, body.review_before_send)


@router.get("/api/dashboard/root-cause")
def root_cause_page(session: SessionDep, ctx: CollabDep) -> dict[str, Any]:
    """The root-cause pages: requests traced to suppliers, answers shared with OEMs (with
    their delivery), and each root_cause grant's budget of requests per 24 hours."""
    return root_cause_view(session, ctx.root_cause_requests_per_day)
