"""Collaboration between installs, as your organisation's users see it."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, BackgroundTasks, Depends, Request
from pydantic import BaseModel, Field

from dure.api.deps import (
    CallerDep,
    CollabDep,
    InspectorsDep,
    JobsDep,
    PageDep,
    SessionDep,
    require,
)
from dure.api.schemas import Instant
from dure.collab.flower import RoundSettings
from dure.domain.collab import FederatedRound, KpiReport, ModelPackage
from dure.domain.jobs import Job
from dure.domain.pages import Listing
from dure.domain.users import Caller, Role
from dure.services.collaboration import (
    adaptation,
    federation,
    kpi_reports,
    parity,
    partners,
    shared_models,
)

router = APIRouter(tags=["collaboration"])


AdminDep = Annotated[Caller, Depends(require(Role.ADMIN))]


TokenDays = Annotated[
    int,
    Field(ge=1, le=partners.MAX_TOKEN_DAYS, description="how long the partner's token is good"),
]


class InvitationIn(BaseModel):
    valid_hours: int = Field(
        72, ge=1, le=partners.MAX_INVITATION_HOURS, description="how long the code may be used"
    )
    token_days: TokenDays = 365


class AcceptIn(BaseModel):
    invitation: str = Field(description="the invitation text the partner's admin gave you")
    token_days: TokenDays = 365


@router.post("/api/partners/invitations", status_code=201)
def invite_partner(body: InvitationIn, caller: AdminDep, ctx: CollabDep) -> dict[str, Any]:
    """An invitation text (one-time code, our address and public key) for a partner's admin."""
    return partners.create_invitation(ctx, caller, body.valid_hours, body.token_days)


@router.post("/api/partners", status_code=201)
def accept_partner(body: AcceptIn, caller: AdminDep, ctx: CollabDep) -> dict[str, Any]:
    """Link to the organisation whose invitation this is; keys are exchanged (admins)."""
    partner = partners.accept_invitation(ctx, caller, body.invitation, body.token_days)
    return {
        "id": partner.id,
        "partner_org_id": partner.partner_org_id,
        "fingerprint": partner.fingerprint,
    }


@router.get("/api/partners")
def list_partners(session: SessionDep) -> list[dict[str, Any]]:
    """Partner organisations on other installs, with their key fingerprints."""
    return partners.partner_list(session)


@router.post("/api/partners/{partner_id}/sync")
def sync_partner(partner_id: str, caller: CallerDep, ctx: CollabDep) -> dict[str, Any]:
    """Fetch the partner's grants and the model packages we may use; verify and import."""
    return shared_models.sync_partner(ctx, caller, partner_id)


class PublishIn(BaseModel):
    golden_image_ids: list[str] = Field(
        default_factory=list,
        max_length=parity.MAX_GOLDEN,
        description="your labelled images of the part you are willing to share as the golden "
        "set partners check deployment parity against (none: no golden set)",
    )


@router.post("/api/model-versions/{version_id}/publish", status_code=201)
def publish_model(
    version_id: str,
    caller: CallerDep,
    ctx: CollabDep,
    inspectors: InspectorsDep,
    body: PublishIn | None = None,
) -> ModelPackage:
    """Sign a ready inspection model into a package partners may fetch under a grant."""
    golden = body.golden_image_ids if body else []
    return shared_models.publish(ctx, caller, version_id, golden, inspectors)


@router.get("/api/packages")
def list_packages(session: SessionDep, page: PageDep) -> Listing[ModelPackage]:
    """Packages you published or imported."""
    return session.packages.list(page)


@router.post("/api/packages/{package_id}/import", status_code=201)
def import_shared_package(package_id: str, caller: CallerDep, ctx: CollabDep) -> ModelPackage:
    """Import a package another organisation on this install shared with you (MODEL_USE
    grant); verified like a package from another install."""
    return shared_models.import_shared(ctx, caller, package_id)


@router.post("/api/packages/{package_id}/parity", status_code=202)
def check_package_parity(
    package_id: str, session: SessionDep, jobs: JobsDep, after: BackgroundTasks
) -> Job:
    """Queue a parity check now: score the package's golden set with the model as this
    install runs it and compare with what its publisher recorded."""
    job = parity.queue_now(session, package_id)
    after.add_task(jobs.wake)
    return job


@router.post("/api/packages/{package_id}/revoke")
def revoke_package(package_id: str, caller: CallerDep, ctx: CollabDep) -> ModelPackage:
    """Withdraw a package you published; partners stop using it at their next sync."""
    return shared_models.revoke_package(ctx, caller, package_id)


@router.post(
    "/api/packages/import",
    status_code=201,
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": "a package file, as `dure` or /api/model-versions/{id}/publish made it",
            "content": {
                media_type: {"schema": {"type": "string", "format": "binary"}}
                for media_type in (shared_models.PACKAGE_MEDIA_TYPE, "application/octet-stream")
            },
        }
    },
)
async def import_package(request: Request, caller: CallerDep, ctx: CollabDep) -> ModelPackage:
    """Import a package file (the request body) after checking signer, signature and hash."""
    data = await request.body()
    return shared_models.import_package(ctx, caller, data, "upload")


class AdaptIn(BaseModel):
    refit_memory: bool = Field(
        False, strict=True, description="rebuild the memory bank from your images"
    )
    false_alarm_rate: float = Field(0.01, gt=0, lt=0.5)
    seed: int = Field(0, ge=0, le=2**31 - 1)


@router.post("/api/model-versions/{version_id}/adapt", status_code=202)
def adapt_model(
    version_id: str, body: AdaptIn, session: SessionDep, jobs: JobsDep, after: BackgroundTasks
) -> Job:
    """Queue a job making a local version of a shared model, calibrated (or refit) on your
    own good images; the job's result names the new version and the rates before/after."""
    job = adaptation.queue_adaptation(
        session, version_id, body.refit_memory, body.false_alarm_rate, body.seed
    )
    after.add_task(jobs.wake)
    return job


class KpiIn(BaseModel):
    part_id: str
    period_start: Instant
    period_end: Instant
    key_parameters: list[dict[str, Any]] = Field(
        default_factory=list, description='e.g. [{"name": "force_kN", "lsl": 80, "usl": 120}]'
    )
    send_to: str | None = Field(None, description="an OEM partner's organisation id")


@router.post("/api/kpi-reports", status_code=201)
def create_kpi_report(body: KpiIn, caller: CallerDep, ctx: CollabDep) -> KpiReport:
    """Compute a part's KPI aggregates for a period; optionally send them under a grant."""
    return kpi_reports.create_report(
        ctx,
        caller,
        body.part_id,
        body.period_start,
        body.period_end,
        body.key_parameters,
        body.send_to,
    )


@router.get("/api/kpi-reports")
def list_kpi_reports(
    session: SessionDep, page: PageDep, part_id: str | None = None
) -> Listing[KpiReport]:
    """Your KPI reports, and those suppliers shared with you."""
    return session.kpi_reports.list(page, part_id=part_id)


class SendIn(BaseModel):
    to: str = Field(description="the OEM partner's organisation id")


@router.post("/api/kpi-reports/{report_id}/send")
def send_kpi_report(report_id: str, body: SendIn, caller: CallerDep, ctx: CollabDep) -> KpiReport:
    """Send a report to a partner; needs your KPI_REPORTS grant for its part."""
    return kpi_reports.send_report(ctx, caller, report_id, body.to)


@router.get("/api/scorecard")
def supplier_scorecard(session: SessionDep, part_id: str | None = None) -> dict[str, Any]:
    """Suppliers ranked by ppm, with yield, drift and trend, from shared KPI reports."""
    return kpi_reports.scorecard(session, part_id)


class RoundIn(BaseModel):
    model_version_id: str
    participants: list[str] | None = None
    rounds: int = Field(30, ge=1, le=500)
    strategy: Literal["fedavg", "fedprox"] = "fedprox"
    mu: float = Field(0.1, ge=0)
    epochs: int = Field(2, ge=1, le=50)
    lr: float = Field(0.5, gt=0)
    dp_noise: float = Field(0.0, ge=0, description="Gaussian noise multiplier; 0 turns DP off")
    dp_clip: float = Field(1.0, gt=0, description="clipping norm of each supplier's update")


@router.post("/api/federated-rounds", status_code=202)
def start_round(body: RoundIn, caller: CallerDep, ctx: CollabDep) -> FederatedRound:
    """Start a federated round over suppliers that granted MODEL_UPDATES for the part."""
    fields = body.model_dump(exclude={"model_version_id", "participants"})
    return federation.start_round(
        ctx, caller, body.model_version_id, RoundSettings(**fields), body.participants
    )


@router.get("/api/federated-rounds")
def list_rounds(session: SessionDep, page: PageDep) -> Listing[FederatedRound]:
    """Federated rounds your organisation started."""
    return session.rounds.list(page)


@router.get("/api/federated-rounds/{round_id}")
def get_round(round_id: str, session: SessionDep) -> FederatedRound:
    """One round: participants, status, history, the version it produced."""
    return session.rounds.get(round_id)
