"""Edge boxes of an organisation: registered with their public key by an engineer, and
assigned a station, a part and the model they inspect with."""

from __future__ import annotations

from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from dure.collab.signing import fingerprint
from dure.domain.edge import MAX_NAME, EdgeDevice
from dure.domain.model_versions import ModelVersion
from dure.domain.users import Caller, Role
from dure.errors import Conflict, Forbidden, Gone, InvalidInput, NotFound
from dure.services.edge_site.context import EdgeSite
from dure.services.inspection.inspect import usable_model
from dure.store.session import Session

ASSIGNABLE = ("station_id", "part_id", "model_version_id")


def device_view(device: EdgeDevice) -> dict[str, Any]:
    """A box as the API shows it (its key by fingerprint)."""
    return {
        "id": device.id,
        "org_id": device.org_id,
        "name": device.name,
        "station_id": device.station_id,
        "part_id": device.part_id,
        "model_version_id": device.model_version_id,
        "fingerprint": fingerprint(device.public_pem),
        "last_seen_at": device.last_seen_at,
        "results_received": device.results_received,
        "retired": device.retired_at is not None,
        "retired_at": device.retired_at,
        # the box's last report of its package's golden set, and whether it is about the
        # package the box should run now (a stale report is for an older package)
        "parity": device.parity,
        "parity_current": bool(
            device.parity and device.parity.get("package_id") == device.assigned_package_id
        ),
        "created_at": device.created_at,
    }


def check_public_key(public_pem: str) -> str:
    """The box's public key, checked to be an Ed25519 key in PEM; InvalidInput otherwise."""
    if not isinstance(public_pem, str) or "PUBLIC KEY" not in public_pem:
        raise InvalidInput("public_pem", "must be a PEM public key (-----BEGIN PUBLIC KEY-----)")
    try:
        key = serialization.load_pem_public_key(public_pem.encode())
    except ValueError as exc:
        raise InvalidInput("public_pem", "is not a readable PEM public key") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise InvalidInput("public_pem", "must be an Ed25519 key (dure edge enrol makes one)")
    return public_pem.strip() + "\n"


def _require_engineer(caller: Caller) -> None:
    if not caller.can(Role.ENGINEER):
        raise Forbidden(
            f"registering and assigning edge boxes needs the engineer role or higher; "
            f"you are {caller.role.value}"
        )


def assigned_model(session: Session, model_id: str) -> ModelVersion:
    """A ready inspection model the caller may use, for ``model_version_id``."""
    try:
        return usable_model(session, model_id)
    except NotFound as exc:
        raise InvalidInput("model_version_id", exc.detail) from exc
    except Conflict as exc:  # not an inspection model, or not ready
        raise InvalidInput("model_version_id", exc.detail) from exc


def placed(session: Session, device: EdgeDevice) -> EdgeDevice:
    """``device`` with its part taken from its model when not named, the model checked
    usable and inspecting that part (a model shared by another organisation needs the
    part named)."""
    if device.model_version_id is None:
        return device
    model = assigned_model(session, device.model_version_id)
    own = model.org_id == session.caller.org_id
    if device.part_id is None:
        if not own or model.part_id is None:
            raise InvalidInput("part_id", "name the part: this model is shared with you")
        device.part_id = model.part_id
    elif own and model.part_id is not None and model.part_id != device.part_id:
        raise InvalidInput(
            "model_version_id",
            f"model {model.id} inspects part {model.part_id}, not {device.part_id}",
        )
    return device


def register_device(
    site: EdgeSite,
    caller: Caller,
    *,
    name: str,
    public_pem: str,
    station_id: str | None = None,
    part_id: str | None = None,
    model_version_id: str | None = None,
) -> dict[str, Any]:
    """Register an edge box with its public key (engineers); the answer carries the
    organisation's signing key the box pins to verify the packages it will pull."""
    _require_engineer(caller)
    if not isinstance(name, str) or not name.strip():
        raise InvalidInput("name", "name the box (e.g. its line and station)")
    if len(name) > MAX_NAME:
        raise InvalidInput("name", f"is longer than {MAX_NAME} characters")
    device = EdgeDevice(
        org_id=caller.org_id,
        name=name.strip(),
        public_pem=check_public_key(public_pem),
        station_id=station_id,
        part_id=part_id,
        model_version_id=model_version_id,
    )
    site_public_pem = site.collab.own_key(caller.org_id)
    with site.store.session(caller) as session:
        session.edge_devices.add(placed(session, device))
    return {
        **device_view(device),
        "site_public_pem": site_public_pem,
        "site_fingerprint": fingerprint(site_public_pem),
    }


def retire_device(site: EdgeSite, caller: Caller, edge_id: str) -> dict[str, Any]:
    """Retire a box (engineers; audited): its result posts answer 401 and its model and
    package reads 410 from now on; the results it already sent stay."""
    _require_engineer(caller)
    with site.store.session(caller) as session:
        return device_view(session.edge_devices.retire(edge_id))


def working_device(session: Session, edge_id: str) -> EdgeDevice:
    """One of the caller's boxes that is not retired: NotFound, or Gone (410) naming when
    it was retired."""
    device = session.edge_devices.own_device(edge_id)
    if device is None:
        raise NotFound(f"edge_device {edge_id!r} does not exist or is not yours")
    if device.retired_at is not None:
        raise Gone(
            f"edge box {edge_id!r} was retired at {device.retired_at.isoformat()}: "
            "it gets no model; enrol the box again to use it"
        )
    return device


def list_devices(session: Session) -> list[dict[str, Any]]:
    """The caller's organisation's edge boxes, oldest first."""
    return [device_view(d) for d in session.edge_devices.list_own()]


def update_device(
    site: EdgeSite, caller: Caller, edge_id: str, changes: dict[str, Any]
) -> dict[str, Any]:
    """Assign a box another station, part or model (engineers); only the named fields
    change (null clears one)."""
    _require_engineer(caller)
    unknown = sorted(set(changes) - set(ASSIGNABLE))
    if unknown:
        raise InvalidInput(unknown[0], f"cannot be changed here; change {', '.join(ASSIGNABLE)}")
    with site.store.session(caller) as session:
        device = working_device(session, edge_id)
        for name, value in changes.items():
            setattr(device, name, value)
        if changes.get("model_version_id") and "part_id" not in changes:
            model = assigned_model(session, changes["model_version_id"])
            if model.org_id == caller.org_id and model.part_id is not None:
                device.part_id = model.part_id  # a new model of ours brings its part
        device = placed(session, device)
        fields = {name: getattr(device, name) for name in ASSIGNABLE}
        updated = session.edge_devices.assign(edge_id, **fields)
    return device_view(updated)
