"""Signed edge packages: the model an edge box inspects with, built on the site.

A package is ``collab.packages.build_package`` around an edge bundle (the ONNX scoring
graph, the defect-type head and ``edge.json``, see ``models.vision.edge_bundle``), signed
with the organisation's collaboration key that the box pinned when it enrolled. One is
built per model version and chosen threshold, on a box's first ask, then kept as a blob:
the package id a box sees changes exactly when its model or that threshold does.

A package carries a golden set when the part has labelled images: up to four good and
four defective of the newest, scored here by the model as the site runs it
(``services.collaboration.parity.make_golden``). The box scores them again when it loads
the package and reports whether it agrees (``services.edge_site.parity``).
"""

from __future__ import annotations

import logging
from typing import Any

from dure.collab.packages import build_package
from dure.collab.signing import sign_message
from dure.domain.edge import EDGE_PACKAGE_FORMAT, EdgePackage, pointer_message, threshold_key
from dure.domain.ids import new_id, utcnow
from dure.domain.model_versions import ModelVersion
from dure.domain.users import Caller, Role
from dure.errors import Conflict, DureError, Forbidden, NotFound
from dure.models.vision.edge_bundle import edge_bundle
from dure.services.collaboration.parity import make_golden
from dure.services.edge_site.context import EdgeSite
from dure.services.edge_site.devices import working_device
from dure.services.inspection.inspect import chosen_threshold, usable_model
from dure.services.inspection.records import store_blob

log = logging.getLogger("dure.edge_site")

EDGE_PACKAGE_MEDIA_TYPE = "application/vnd.dure.edge-package"
GOLDEN_IMAGES = 8  # half good, half defective when the part has both
GOLDEN_POOL = 200  # the newest labelled images they are chosen from
EDGE_PACKAGE_KIND = "edge-inspector"


def _require_operator(caller: Caller) -> None:
    if not caller.can(Role.OPERATOR):
        raise Forbidden(
            f"an edge box's calls need the operator role or higher; you are {caller.role.value}"
        )


def pointer(package: EdgePackage | None, edge_id: str = "", assignment: int = 0) -> dict[str, Any]:
    """What a box polls: the package it should run (``package_id`` null: none assigned),
    unsigned; :func:`signed_pointer` adds ``issued_at`` and the signature."""
    if package is None:
        return {"package_id": None}
    return {
        "edge_id": edge_id,
        "package_id": package.id,
        "sha256": package.package_sha256,
        "model_version_id": package.model_version_id,
        "size": package.size,
        "assignment": assignment,
    }


def signed_pointer(site: EdgeSite, org_id: str, fields: dict[str, Any]) -> dict[str, Any]:
    """``fields`` with ``issued_at`` and ``signature``: the org's collaboration key (the one
    the box pinned at enrolment) over :func:`dure.domain.edge.pointer_message`."""
    out = {**fields, "issued_at": utcnow().isoformat()}
    private = site.collab.keys.private_pem(org_id)
    return {**out, "signature": sign_message(private, pointer_message(out))}


def model_pointer(site: EdgeSite, caller: Caller, edge_id: str) -> dict[str, Any]:
    """The package edge box ``edge_id`` should run now (built on first ask), signed with
    the organisation's key, with the box's assignment number (grown whenever that package
    changes) so the box can refuse an older pointer replayed at it."""
    _require_operator(caller)
    with site.store.session(caller, read_only=True) as session:
        device = working_device(session, edge_id)
        if device.model_version_id is None:
            return pointer(None)
        model = usable_model(session, device.model_version_id)
        threshold = chosen_threshold(model)
        built = session.edge_packages.built(model.id, threshold_key(threshold))
    if built is None:
        built = build_edge_package(site, caller, model, threshold, device.part_id)
    with site.store.session(caller) as session:
        number = session.edge_devices.note_package(edge_id, built.id)
    site.collab.own_key(caller.org_id)
    return signed_pointer(site, caller.org_id, pointer(built, edge_id, number))


def edge_card(
    caller: Caller, model: ModelVersion, threshold: float | None, part_id: str | None
) -> dict[str, Any]:
    """The signed card of an edge package: which model, for which part, at which threshold."""
    return {
        "package_id": new_id(),
        "name": model.name,
        "version": model.version,
        "task": model.task,
        "kind": EDGE_PACKAGE_KIND,
        "edge_format": EDGE_PACKAGE_FORMAT,
        "model_version_id": model.id,
        "part_id": part_id or model.part_id,
        "publisher": {"org_id": caller.org_id},
        "threshold": threshold,
        "map_level": model.card.get("map_level"),
        "defect_types": model.card.get("defect_types", []),
        "published_at": utcnow().isoformat(),
    }


def build_edge_package(
    site: EdgeSite,
    caller: Caller,
    model: ModelVersion,
    threshold: float | None,
    part_id: str | None = None,
) -> EdgePackage:
    """Build, sign and keep the edge package of ``model`` at ``threshold`` (None: the
    model's own); the compute runs outside any transaction, and a package another request
    built meanwhile is the one returned."""
    inspector = site.inspectors.get(model.blob_sha256 or "")
    bundle = edge_bundle(inspector, threshold)
    card = {**edge_card(caller, model, threshold, part_id), "map_level": inspector.map_level}
    golden, golden_bin = edge_golden(site, caller, model)
    if golden is not None:
        card["golden"] = golden
    site.collab.own_key(caller.org_id)
    data = build_package(
        bundle, card, caller.org_id, site.collab.keys.private_pem(caller.org_id), golden=golden_bin
    )
    key = threshold_key(threshold)
    package = EdgePackage(
        id=card["package_id"],
        org_id=caller.org_id,
        model_version_id=model.id,
        threshold_key=key,
        package_sha256="",
        size=len(data),
        map_level=float(inspector.map_level),
    )
    with site.store.session(caller) as session:
        built = session.edge_packages.built(model.id, key)
        if built is not None:
            return built
        package.package_sha256 = store_blob(
            session, data, EDGE_PACKAGE_MEDIA_TYPE, f"{package.id}.dmp"
        )
        try:
            session.edge_packages.add(package)
        except Conflict:  # built by a request that committed after our check
            built = session.edge_packages.built(model.id, key)
            if built is None:
                raise
            return built
        session.audit.record(
            "build",
            "edge_package",
            package.id,
            detail={"model_version_id": model.id, "threshold": threshold},
        )
    return package


def edge_golden(
    site: EdgeSite, caller: Caller, model: ModelVersion
) -> tuple[dict[str, Any] | None, bytes | None]:
    """The golden set of an edge package of ``model``: (card entry, member), or (None,
    None) when the part has no labelled image or they cannot be scored (logged: the box
    still gets its model, without a parity check)."""
    with site.store.session(caller, read_only=True) as session:
        recent = session.labelled_images.own_newest(GOLDEN_POOL, part_id=model.part_id)
    recent.reverse()  # newest first
    good = [i for i in recent if i.label == "good"][: GOLDEN_IMAGES // 2]
    bad = [i for i in recent if i.label != "good"][: GOLDEN_IMAGES - len(good)]
    chosen = [i.id for i in good + bad]
    if not chosen:
        return None, None
    try:
        return make_golden(site.store, caller, model, chosen, site.inspectors)
    except DureError as exc:
        log.warning("edge package of %s built without a golden set: %s", model.id, exc)
        return None, None


def package_bytes(
    site: EdgeSite, caller: Caller, package_id: str, edge_id: str | None = None
) -> bytes:
    """The signed bytes of one of the organisation's edge packages; asked for box
    ``edge_id`` (as ``dure edge`` does), Gone when that box is retired."""
    _require_operator(caller)
    with site.store.session(caller, read_only=True) as session:
        if edge_id is not None:
            working_device(session, edge_id)
        package = session.edge_packages.own_package(package_id)
        if package is None:
            raise NotFound(f"edge_package {package_id!r} does not exist or is not yours")
        return session.blob_store.get(package.package_sha256)
