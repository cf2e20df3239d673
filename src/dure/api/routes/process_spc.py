"""Process SPC: per-parameter control charts with run rules and Cpk, spec limits, and the
Process page's view (charts, defect root causes, setpoint advice)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query
from pydantic import Field

from dure.api.deps import SessionDep, require
from dure.api.schemas import Body
from dure.domain.parts import ParameterSpec
from dure.domain.users import Role
from dure.services.dashboard.process_view import chart_json, process_view
from dure.services.process.control_charts import parameter_charts
from dure.services.process.specs import set_spec, specs_of_part

router = APIRouter(tags=["process SPC"])

NAME = r"^[A-Za-z_][A-Za-z0-9_]{0,63}$"
Parameter = Annotated[
    str | None,
    Query(pattern=NAME, description="one parameter the part's records carry (all if left out)"),
]


@router.get("/api/parts/{part_id}/process-charts")
def process_charts(
    part_id: str, session: SessionDep, parameter: Parameter = None
) -> dict[str, Any]:
    """X̄-R (by lot) or I-MR charts per parameter: limits from the first points, run-rule
    violations after them (each with index, time and value), Cpk with its interval."""
    charts = parameter_charts(session, part_id, None if parameter is None else [parameter])
    return {"part_id": part_id, "charts": [chart_json(c) for c in charts]}


@router.get("/api/dashboard/process")
def process_page(
    session: SessionDep,
    part_id: Annotated[str | None, Query(max_length=64)] = None,
    parameter: Parameter = None,
) -> dict[str, Any]:
    """The Process page in one read: parts, charts, spec limits, root causes, advice."""
    return process_view(session, part_id, parameter)


@router.get("/api/parts/{part_id}/process-specs")
def list_specs(part_id: str, session: SessionDep) -> list[ParameterSpec]:
    """The part's specification limits per parameter (what Cpk is measured against)."""
    return specs_of_part(session, part_id)


class SpecIn(Body):
    # strict: true and false are no limits
    lower: float | None = Field(
        default=None, strict=True, allow_inf_nan=False, description="lower specification limit"
    )
    upper: float | None = Field(
        default=None, strict=True, allow_inf_nan=False, description="upper specification limit"
    )


@router.put(
    "/api/parts/{part_id}/process-specs/{parameter}",
    dependencies=[Depends(require(Role.ENGINEER))],
)
def put_spec(
    part_id: str,
    parameter: Annotated[str, Path(pattern=NAME, description="the parameter's name")],
    body: SpecIn,
    session: SessionDep,
) -> ParameterSpec:
    """Set one parameter's specification limits (engineers and admins)."""
    return set_spec(session, part_id, parameter, body.lower, body.upper)
