"""Deployment parity of shared models: the publisher's golden set, re-scored at each site.

Publishing: the publisher may name some of its own labelled images of the part that it is
willing to share (the golden set); its install scores them with the model as published
and the package carries the images, their maps and (in the signed card) their expected
scores and input fingerprints (``models.vision.parity``).

Importing: a supplier's install that imports a package with a golden set queues a parity
check at once and again on a schedule (``queue_due``, called by the job runner). The check
decodes the golden images as the site decodes any upload, scores them with the imported
model as the site runs it (``InspectorCache``: its onnxruntime, its pixels pipeline) and
keeps the comparison on the package row. KPI reports carry it to the publisher.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from dure.collab.packages import verify_package
from dure.domain.alerts import AlertKind
from dure.domain.collab import ModelPackage, PackageRole
from dure.domain.ids import utcnow
from dure.domain.jobs import Job, JobKind
from dure.domain.model_versions import ModelVersion
from dure.domain.times import as_utc
from dure.domain.users import Caller, Role
from dure.errors import Conflict, InvalidInput, ModelFileError, NotFound
from dure.ingest.images import decode_image
from dure.models.vision.parity import (
    compare,
    golden_card,
    input_fingerprint,
    pack_golden,
    unpack_golden,
)
from dure.services.alerts.raising import raise_alert
from dure.services.platform.model_files import InspectorCache
from dure.store.session import Session, Store

log = logging.getLogger(__name__)
MAX_GOLDEN = 32  # images a golden set may hold
#: How often an imported package's golden set is scored again.
PARITY_EVERY = timedelta(hours=24)


# ---- the publisher's side -------------------------------------------------------------
def make_golden(
    store: Store, caller: Caller, model: ModelVersion, image_ids: list[str], cache: InspectorCache
) -> tuple[dict[str, Any], bytes]:
    """(the card's ``golden`` entry, the ``golden.bin`` member) for ``image_ids``: our own
    labelled images of the model's part, scored by the model as this install runs it."""
    if not image_ids:
        raise InvalidInput("golden_image_ids", "name at least one image")
    if len(image_ids) > MAX_GOLDEN:
        raise InvalidInput("golden_image_ids", f"at most {MAX_GOLDEN} images")
    if len(set(image_ids)) != len(image_ids):
        raise InvalidInput("golden_image_ids", "an image is named twice")
    with store.session(caller, read_only=True) as session:
        chosen = []
        for i, image_id in enumerate(image_ids):
            image = session.labelled_images.own(image_id, f"golden_image_ids.{i}")
            if image.part_id != model.part_id:
                raise InvalidInput(
                    f"golden_image_ids.{i}", "is an image of another part than the model's"
                )
            chosen.append(image)
    files = [store.blobs.get(image.image_sha256) for image in chosen]
    names = [image.source_name or image.id for image in chosen]
    pixels = [decode_image(data, name) for data, name in zip(files, names, strict=True)]
    inspector = cache.get(model.blob_sha256 or "")
    scored = inspector.score(pixels)
    shape = inspector.detector_.input_shape_
    inputs = [input_fingerprint(p, shape) for p in pixels]
    return golden_card(names, files, scored.image, inputs), pack_golden(files, scored.maps)


# ---- the importing side --------------------------------------------------------------
def queue_check(session: Session, package: ModelPackage, key: str | None = None) -> Job | None:
    """Queue a parity check of one of our imported packages (None when it has no golden
    set, or a check with the same ``key`` was queued already)."""
    if package.role != PackageRole.IMPORTED or not package.card.get("golden"):
        return None
    if key is not None and session.jobs.with_key(key) is not None:
        return None
    return session.jobs.add(
        Job(
            org_id=session.caller.org_id,
            kind=JobKind.CHECK_PARITY,
            subject_id=package.id,
            created_by=session.caller.user_id,
            idempotency_key=key,
        )
    )


def queue_now(session: Session, package_id: str) -> Job:
    """Queue a parity check of one of our imported packages now (a user asked)."""
    package = session.packages.get(package_id)
    if package.org_id != session.caller.org_id:
        raise NotFound(f"model_package {package_id!r} does not exist or is not yours")
    job = queue_check(session, package)
    if job is None:
        raise Conflict(f"package {package_id} is not an imported package with a golden set")
    return job


def check_parity(
    store: Store, caller: Caller, package_id: str, cache: InspectorCache
) -> dict[str, Any]:
    """Score the golden set of one of our imported packages here and keep the comparison.

    The package is verified again (a golden set changed after signing is refused here as
    at import); the outcome is kept on the package row whatever it is.
    """
    with store.session(caller, read_only=True) as session:
        package = session.packages.own(package_id, "package_id")
        if package.role != PackageRole.IMPORTED:
            raise Conflict(f"package {package_id} is not one you imported")
        if not package.card.get("golden"):
            raise Conflict(f"package {package_id} carries no golden set")
        model = session.model_versions.get(package.model_version_id or "")
        data = session.blob_store.get(package.package_sha256)
        trusted = {package.publisher_org_id: _publisher_key(store, session, package)}
    verified = verify_package(data, trusted)
    if verified.golden is None:
        raise ModelFileError("the package's golden set is missing")
    files, expected_maps = unpack_golden(verified.golden)
    golden = verified.card["golden"]
    names = [str(item.get("name")) for item in golden.get("images") or []]
    pixels = [decode_image(f, n) for f, n in zip(files, names, strict=False)]
    inspector = cache.get(model.blob_sha256 or "")
    scored = inspector.score(pixels)
    inputs = [input_fingerprint(p, inspector.detector_.input_shape_) for p in pixels]
    outcome = compare(golden, expected_maps, scored.image, scored.maps, inputs)
    outcome["checked_at"] = utcnow().isoformat()
    outcome["model_version_id"] = model.id
    with store.session(caller) as session:
        session.packages.keep_parity(package_id, outcome)
        if outcome["status"] != "ok" and caller.can(Role.OPERATOR):
            raise_alert(
                session,
                AlertKind.PARITY,
                package_id,
                "package parity mismatch",
                f"imported model package {package_id} scores its golden set differently "
                f"here than at its publisher: {outcome.get('cause') or 'no cause given'}",
                "critical",
                "/models",
            )
    return outcome


def _publisher_key(store: Store, session: Session, package: ModelPackage) -> bytes:
    for partner in session.partners.list_all():
        if partner.partner_org_id == package.publisher_org_id:
            return partner.public_pem.encode()
    with store.system(read_only=True) as system:  # a publisher on this install
        public = system.peers.org_public_key(package.publisher_org_id)
    if public is None:
        raise Conflict(f"no public key of the publisher {package.publisher_org_id} is on file")
    return public.encode()


def run_check(store: Store, caller: Caller, job: Job, cache: InspectorCache) -> dict[str, Any]:
    """The job runner's side of ``queue_check``: the short form of the outcome."""
    outcome = check_parity(store, caller, job.subject_id, cache)
    return {k: outcome[k] for k in ("status", "max_score_drift", "max_map_drift", "cause")}


def queue_due(store: Store, every: timedelta = PARITY_EVERY, now: datetime | None = None) -> int:
    """Queue a parity check of every imported package with a golden set not checked within
    ``every`` (once per period: the job's key names it); returns how many were queued."""
    now = now or utcnow()
    period = int(now.timestamp() // every.total_seconds())
    with store.system(read_only=True) as system:
        due = system.peers.parity_candidates()
    queued = 0
    for package in due:
        checked = (package.parity or {}).get("checked_at")
        if checked and as_utc(datetime.fromisoformat(checked)) > now - every:
            continue
        caller = Caller(org_id=package.org_id, user_id=None, role=Role.ADMIN)
        with store.session(caller) as session:
            queued += queue_check(session, package, f"parity:{package.id}:{period}") is not None
    return queued


# ---- what KPI reports and pages show --------------------------------------------------
def parity_summary(package: ModelPackage) -> dict[str, Any]:
    """One shared model's parity as a KPI report carries it (no images, no maps)."""
    parity = package.parity or {}
    status = parity.get("status") or ("unchecked" if package.card.get("golden") else "no_golden")
    return {
        "package_id": package.origin_id,
        "model": package.card.get("name"),
        "version": package.card.get("version"),
        "status": status,
        "checked_at": parity.get("checked_at"),
        "max_score_drift": parity.get("max_score_drift"),
        "max_relative_score_drift": parity.get("max_relative_score_drift"),
        "max_map_drift": _finite(parity.get("max_map_drift")),
        "cause": parity.get("cause"),
        "environment": (parity.get("environment") or {}).get("site"),
    }


def _finite(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and np.isfinite(value) else None


def part_parity(session: Session, part_id: str) -> dict[str, Any]:
    """Parity of the shared models we imported for ``part_id``: overall status (ok when
    every checked one agrees, mismatch when any does not) and each model's summary."""
    models = [
        parity_summary(p)
        for p in session.packages.list_own(role=PackageRole.IMPORTED.value, part_id=part_id)
        if p.revoked_at is None
    ]
    statuses = {m["status"] for m in models}
    if "mismatch" in statuses:
        status = "mismatch"
    elif "ok" in statuses:
        status = "ok"
    else:
        status = "unchecked" if models else "no_shared_model"
    drifts = [m["max_score_drift"] for m in models if m["max_score_drift"] is not None]
    return {"status": status, "max_score_drift": max(drifts, default=None), "models": models}
