"""The API edge boxes (``dure edge``) talk to: registration, model packages, results.

Every call carries an API token; registering and assigning a box needs an engineer, the
box's own calls an operator. Result posts are also signed with the box's key.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from dure.api.deps import CallerDep, InstallDep, SessionDep, require
from dure.domain.edge import MAX_ID, MAX_NAME
from dure.domain.users import Caller, Role
from dure.services.edge_site import devices, packages, parity, results
from dure.services.edge_site.context import EdgeSite
from dure.services.inspection.records import ImageLimits

router = APIRouter(prefix="/api/edge/v1", tags=["edge boxes"])

EngineerDep = Annotated[Caller, Depends(require(Role.ENGINEER))]
OperatorDep = Annotated[Caller, Depends(require(Role.OPERATOR))]
Id = Annotated[str | None, Field(default=None, max_length=MAX_ID)]


def edge_site(install: InstallDep) -> EdgeSite:
    """What the edge services need from the install."""
    limits = ImageLimits(install.settings.max_upload_bytes, install.settings.max_image_pixels)
    return EdgeSite(install.collab, install.inspectors, limits)


SiteDep = Annotated[EdgeSite, Depends(edge_site)]


class DeviceIn(BaseModel):
    name: str = Field(max_length=MAX_NAME, description="the box's name, e.g. its line and station")
    public_pem: str = Field(max_length=4000, description="the box's Ed25519 public key (PEM)")
    station_id: Id = None
    part_id: Id = None
    model_version_id: Id = None


class DeviceChange(BaseModel):
    station_id: Id = None
    part_id: Id = None
    model_version_id: Id = None


@router.post("/devices", status_code=201)
def register_device(body: DeviceIn, caller: EngineerDep, site: SiteDep) -> dict[str, Any]:
    """Register an edge box by its public key (engineers); answers the site's key to pin."""
    return devices.register_device(site, caller, **body.model_dump())


@router.get("/devices")
def list_devices(session: SessionDep) -> dict[str, Any]:
    """Your organisation's edge boxes, when each was last heard from and how many results
    it forwarded."""
    return {"devices": devices.list_devices(session)}


@router.put("/devices/{edge_id}")
def update_device(
    edge_id: str, body: DeviceChange, caller: EngineerDep, site: SiteDep
) -> dict[str, Any]:
    """Assign a box a station, part or model (engineers); fields left out stay as they are."""
    return devices.update_device(site, caller, edge_id, body.model_dump(exclude_unset=True))


@router.post("/devices/{edge_id}/retire")
def retire_device(edge_id: str, caller: EngineerDep, site: SiteDep) -> dict[str, Any]:
    """Retire a box (engineers; audited): its result posts answer 401 and its model and
    package reads 410 from now on; the results it already sent stay."""
    return devices.retire_device(site, caller, edge_id)


@router.get("/model")
def model_pointer(edge_id: str, caller: OperatorDep, site: SiteDep) -> dict[str, Any]:
    """The signed package the box should run (``package_id`` null: no model assigned)."""
    return packages.model_pointer(site, caller, edge_id)


@router.get("/packages/{package_id}")
def package_bytes(
    package_id: str, caller: OperatorDep, site: SiteDep, edge_id: str | None = None
) -> Response:
    """A signed edge package's bytes (verify with the site key pinned at enrolment); with
    ``edge_id`` (the box asking), 410 when that box is retired."""
    data = packages.package_bytes(site, caller, package_id, edge_id)
    return Response(data, media_type="application/octet-stream")


async def raw_post(request: Request) -> tuple[str, str, dict[str, str], bytes]:
    """The method, path, headers and body a box signed (not yet checked)."""
    return request.method, request.url.path, dict(request.headers), await request.body()


@router.post("/parity")
def post_parity(
    caller: CallerDep,
    site: SiteDep,
    signed: Annotated[tuple[str, str, dict[str, str], bytes], Depends(raw_post)],
) -> dict[str, Any]:
    """A box's report of its package's golden set scored on the box, signed with its key:
    kept as the box's latest (the device list shows it)."""
    method, path, headers, body = signed
    return parity.receive_parity(site, caller, method, path, headers, body)


@router.post("/results")
def post_results(
    caller: CallerDep,
    site: SiteDep,
    signed: Annotated[tuple[str, str, dict[str, str], bytes], Depends(raw_post)],
) -> dict[str, Any]:
    """Results a box forwards, signed with its key: each kept once (stored, duplicate) or
    refused with the reason naming the field."""
    method, path, headers, body = signed
    return results.receive_results(site, caller, method, path, headers, body)
