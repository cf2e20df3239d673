"""The API other installs call: signed, timed, one-time requests from partner organisations."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from dure.api.deps import CollabDep
from dure.collab.signing import SignedRequest
from dure.domain.users import Caller
from dure.services.collaboration import (
    federation,
    kpi_reports,
    partners,
    root_cause,
    shared_models,
)
from dure.services.collaboration import grants as shared_grants

router = APIRouter(prefix="/peer/v1", tags=["between installs"])


async def signed_request(request: Request) -> SignedRequest:
    """The request's signature headers and body (not yet checked)."""
    return SignedRequest.from_headers(
        request.method, request.url.path, dict(request.headers), await request.body()
    )


SignedDep = Annotated[SignedRequest, Depends(signed_request)]


def peer_caller(request: Request, signed: SignedDep, ctx: CollabDep) -> Caller:
    """The partner organisation behind the request; 401 (audited) when anything is off."""
    auth = request.headers.get("authorization", "")
    token = auth.removeprefix("Bearer ").strip() if auth.startswith("Bearer ") else None
    return partners.authenticate_peer(ctx.store, signed, token)


PeerDep = Annotated[Caller, Depends(peer_caller)]


@router.post("/link")
def link(signed: SignedDep, ctx: CollabDep) -> dict[str, Any]:
    """A partner accepting our invitation: its key and token for ours."""
    return partners.receive_link(ctx, signed)


@router.get("/grants")
def grants(caller: PeerDep, ctx: CollabDep) -> list[dict[str, Any]]:
    """Grants we gave the calling partner."""
    with ctx.store.session(caller, read_only=True) as session:
        return shared_grants.grants_for_partner(session)


@router.post("/grants")
def receive_grant(body: dict[str, Any], caller: PeerDep, ctx: CollabDep) -> dict[str, str]:
    """A grant the partner gave (or revoked) one of our organisations."""
    with ctx.store.session(caller) as session:
        grant = shared_grants.receive_grant(session, body)
    return {"id": grant.id, "status": "revoked" if grant.revoked_at else "kept"}


@router.get("/packages")
def packages(caller: PeerDep, ctx: CollabDep) -> list[dict[str, Any]]:
    """Packages the partner may use by grant (revoked ones too, so it stops using them)."""
    with ctx.store.session(caller, read_only=True) as session:
        return shared_models.packages_for_partner(session)


@router.get(
    "/packages/{package_id}",
    response_class=Response,
    responses={
        200: {
            "description": "the signed package file",
            "content": {shared_models.PACKAGE_MEDIA_TYPE: {"schema": {"type": "string"}}},
        }
    },
)
def package(package_id: str, caller: PeerDep, ctx: CollabDep) -> Response:
    """The signed package file (the download is audited under the grant)."""
    with ctx.store.session(caller, read_only=True) as session:
        data = shared_models.package_bytes(session, package_id)
    return Response(data, media_type=shared_models.PACKAGE_MEDIA_TYPE)


@router.post("/kpi-reports", status_code=201)
def kpi_report(body: dict[str, Any], caller: PeerDep, ctx: CollabDep) -> dict[str, str]:
    """A supplier's KPI aggregates, kept only under its KPI_REPORTS grant to us."""
    with ctx.store.session(caller) as session:
        report = kpi_reports.receive_report(session, body)
    return {"id": report.id}


@router.post("/federated-rounds")
def federated_round(
    body: dict[str, Any], caller: PeerDep, signed: SignedDep, ctx: CollabDep
) -> dict[str, Any]:
    """An OEM asking us to train in its round: only with our MODEL_UPDATES grant."""
    return federation.join_round(ctx, caller, signed.receiver, body)


@router.post(
    "/root-cause-requests",
    response_class=Response,
    responses={200: {"content": {"application/json": {"schema": {"type": "object"}}}}},
)
def root_cause_request(
    body: dict[str, Any], caller: PeerDep, signed: SignedDep, ctx: CollabDep
) -> Response:
    """An OEM asking why lots were bad: only under our ROOT_CAUSE grant; the aggregates
    (or a pending notice when an admin reviews answers first), as the JSON we keep."""
    text = root_cause.answer_request(ctx, caller, signed.receiver, body)
    return Response(text, media_type="application/json")


@router.post("/root-cause-answers")
def root_cause_answer(
    _body: dict[str, Any], caller: PeerDep, signed: SignedDep, ctx: CollabDep
) -> dict[str, str]:
    """A supplier's answer, sent after its admin's review: kept byte for byte."""
    row = root_cause.receive_answer(ctx, caller, signed.receiver, signed.body.decode())
    return {"id": row.request_id, "status": str(row.status)}
