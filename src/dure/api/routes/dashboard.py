"""What the dashboard's pages read: overview, a line, a model's threshold trade-off."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from dure.api.deps import SessionDep
from dure.domain.model_versions import ModelVersion
from dure.services.dashboard import views as dashboard
from dure.services.dashboard.setup import setup_view
from dure.services.inspection import thresholds
from dure.services.inspection.teaching import own_inspection_model

router = APIRouter(tags=["dashboard"])


TimeZone = Annotated[
    str,
    Query(
        description="an IANA time zone name: days start at its midnight",
        json_schema_extra={"enum": list(dashboard.time_zone_names())},
    ),
]


@router.get("/api/dashboard/overview")
def overview(session: SessionDep, tz: TimeZone = "UTC") -> dict[str, Any]:
    """Per line: parts inspected today, first-pass yield, defect rate and trend, open alerts."""
    return dashboard.overview(session, tz)


@router.get("/api/dashboard/setup")
def setup(session: SessionDep) -> dict[str, Any]:
    """Your sites, lines, stations, parts, defect taxonomy (own and inherited from your
    OEMs) and machines with their sensor channels: what the setup page lists."""
    return setup_view(session)


@router.get("/api/lines/{line_id}/dashboard")
def line_dashboard(
    line_id: str,
    session: SessionDep,
    tz: TimeZone = "UTC",
    days: Annotated[int, Query(ge=1, le=dashboard.MAX_DAYS)] = dashboard.TREND_DAYS,
    recent: Annotated[int, Query(ge=1, le=dashboard.MAX_RECENT)] = 30,
) -> dict[str, Any]:
    """One line: newest inspections, defect Pareto, score control chart."""
    return dashboard.line_view(session, line_id, tz, days, recent)


@router.get("/api/inspection-models/{model_id}/threshold")
def threshold_tradeoff(model_id: str, session: SessionDep) -> dict[str, Any]:
    """The current threshold and the false-alarm / miss trade-off on held-out images."""
    model = own_inspection_model(session, model_id)
    value = (model.card.get("threshold") or {}).get("value")
    return {
        "model_id": model.id,
        "current": thresholds.tradeoff(model.card, float(value)) if value else None,
        "calibrated": model.card.get("calibrated_threshold") or model.card.get("threshold"),
        "curve": thresholds.tradeoff_curve(model.card),
    }


class ThresholdIn(BaseModel):
    value: float = Field(
        ge=thresholds.MIN_THRESHOLD,
        le=thresholds.MAX_THRESHOLD,
        description="the new decision threshold on image scores",
    )


@router.post("/api/inspection-models/{model_id}/threshold")
def save_threshold(model_id: str, body: ThresholdIn, session: SessionDep) -> ModelVersion:
    """Save a threshold chosen on the trade-off; later inspections use it."""
    return thresholds.set_threshold(session, model_id, body.value)
