"""Machine health and remaining useful life; the Machines page's views."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from dure.api.deps import SessionDep
from dure.services.maintenance import machines
from dure.services.maintenance.health import DEFAULT_BASELINE, MIN_BASELINE, asset_health

router = APIRouter(tags=["machines"])

Baseline = Annotated[
    int,
    Query(
        ge=MIN_BASELINE,
        le=100_000,
        description="how many of the machine's first readings count as normal operation",
    ),
]


@router.get("/api/assets/{asset_id}/health")
def get_asset_health(
    asset_id: str,
    session: SessionDep,
    baseline: Baseline = DEFAULT_BASELINE,
    coverage: Annotated[float, Query(gt=0, lt=1, description="the RUL interval's coverage")] = 0.8,
    failure_level: Annotated[
        float | None,
        Query(gt=1, description="deviation (in normal spreads) that counts as failure"),
    ] = None,
) -> dict[str, Any]:
    """Health (0-100 %), remaining useful life with its interval and unit, the channels
    that drive it, the health index over time and each channel's normal band; ``model``
    names the model that gave the figures."""
    return asset_health(session, asset_id, baseline, coverage, failure_level).summary()


@router.get("/api/machines")
def list_machines(session: SessionDep) -> dict[str, Any]:
    """Your machines with health, RUL, top drivers and open alerts (least healthy first)."""
    return machines.machines_view(session)


@router.get("/api/machines/{asset_id}")
def machine_page(
    asset_id: str,
    session: SessionDep,
    points: Annotated[int, Query(ge=10, le=machines.MAX_POINTS)] = 300,
    baseline: Baseline = DEFAULT_BASELINE,
) -> dict[str, Any]:
    """One machine: channel trends with the learned normal band and anomaly marks, the
    health index against its failure level, and its alert history."""
    return machines.machine_view(session, asset_id, points, baseline)
