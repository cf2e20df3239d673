"""Shared inspection models: an OEM publishes signed packages, a supplier verifies and imports.

What is shared is a model version's packed folder (memory bank of the OEM's own good
images' patch features, ONNX graph, defect-type head) with a signed card. A supplier's
install never loads a package whose signature, signer, content hash or revocation status
does not check out; each refusal is audited.
"""

from __future__ import annotations

import hashlib
from typing import Any

from dure.collab.packages import PackageRefused, build_package, verify_package
from dure.domain.collab import ModelPackage, PackageRole
from dure.domain.ids import new_id, utcnow
from dure.domain.model_versions import ModelVersion
from dure.domain.parts import DefectType
from dure.domain.users import Caller, Role
from dure.errors import Conflict, Forbidden, InvalidInput, NotFound
from dure.services.collaboration.context import Collab, audit_refusal
from dure.services.collaboration.grants import receive_grant
from dure.services.collaboration.parity import make_golden, queue_check
from dure.services.inspection.records import store_blob
from dure.services.inspection.teaching import TASK
from dure.services.platform.model_files import MEDIA_TYPE, InspectorCache
from dure.store.session import Session

PACKAGE_MEDIA_TYPE = "application/vnd.dure.model-package"


def package_card(session: Session, model: ModelVersion) -> dict[str, Any]:
    """The card a package carries: what the model is for, how good it is, where it came from."""
    part = session.parts.get(model.part_id or "")
    org = session.organisations.get(model.org_id)
    taxonomy = [
        {"code": d.code, "name": d.name, "severity": d.severity}
        for d in session.defect_types.list_all()
        if d.org_id == model.org_id
    ]
    card = model.card
    return {
        "package_id": new_id(),
        "name": model.name,
        "version": model.version,
        "task": model.task,
        "model_version_id": model.id,
        "publisher": {"org_id": org.id, "name": org.name},
        "part_number": part.number,
        "intended_parts": [{"number": part.number, "name": part.name}],
        "defect_taxonomy": taxonomy,
        "defect_types": card.get("defect_types", []),
        "metrics": {
            "threshold": card.get("threshold"),
            "held_out_image_auroc": card.get("held_out_image_auroc"),
        },
        "data_summary": card.get("teaching", {}),
        "reference_scores": card.get("reference_scores"),
        "lineage": card.get("lineage", {}),
        "federated": card.get("federated"),
        "published_at": utcnow().isoformat(),
    }


def publish(
    ctx: Collab,
    caller: Caller,
    version_id: str,
    golden_image_ids: list[str] | None = None,
    cache: InspectorCache | None = None,
) -> ModelPackage:
    """Sign one of our ready inspection models into a package partners may fetch by grant.

    ``golden_image_ids`` names our own labelled images of the part that we are willing to
    share as the package's golden set (scored here first, outside any transaction, with
    ``cache``'s inspector); partners check deployment parity against it.
    """
    if not caller.can(Role.ENGINEER):
        raise Forbidden("publishing a model needs the engineer role or higher")
    ctx.own_key(caller.org_id)
    with ctx.store.session(caller, read_only=True) as session:
        model = _publishable(session, version_id)
    golden, golden_bin = None, None
    if golden_image_ids:
        if cache is None:
            raise Conflict("a golden set needs the install's model cache to score it")
        golden, golden_bin = make_golden(ctx.store, caller, model, golden_image_ids, cache)
    with ctx.store.session(caller) as session:
        model = _publishable(session, version_id)
        card = package_card(session, model)
        if golden is not None:
            card["golden"] = golden
        data = build_package(
            session.blob_store.get(model.blob_sha256 or ""),
            card,
            caller.org_id,
            ctx.keys.private_pem(caller.org_id),
            golden_bin,
        )
        sha = store_blob(session, data, PACKAGE_MEDIA_TYPE, f"{card['package_id']}.dmp")
        package = ModelPackage(
            id=card["package_id"],
            origin_id=card["package_id"],
            org_id=caller.org_id,
            role=PackageRole.PUBLISHED,
            publisher_org_id=caller.org_id,
            part_id=model.part_id,
            part_number=card["part_number"],
            model_version_id=model.id,
            package_sha256=sha,
            card=card,
        )
        session.packages.add(package)
        session.audit.record(
            "publish",
            "model_package",
            package.id,
            detail={"version": model.id, "golden_images": len(golden_image_ids or [])},
        )
        return package


def _publishable(session: Session, version_id: str) -> ModelVersion:
    model = session.model_versions.get(version_id)
    if model.org_id != session.caller.org_id:
        raise Forbidden("you can only publish your own organisation's models")
    if model.task != TASK or model.status != "ready" or not model.blob_sha256:
        raise Conflict(f"model {version_id} is not a ready inspection model")
    return model


def revoke_package(ctx: Collab, caller: Caller, package_id: str) -> ModelPackage:
    """Withdraw a package we published; partners stop using it at their next sync."""
    with ctx.store.session(caller) as session:
        package = session.packages.get(package_id)
        if package.org_id != caller.org_id or package.role != PackageRole.PUBLISHED:
            raise Forbidden("only the publisher may revoke a package")
        revoked = session.packages.update_fields(package_id, revoked_at=utcnow())
    with ctx.store.system() as system:  # copies on this install stop at once
        system.peers.withdraw_copies(package.origin_id, caller.org_id, system.audit)
    return revoked


# ---- the publisher's side of a partner's request ------------------------------------------
def packages_for_partner(session: Session) -> list[dict[str, Any]]:
    """Published packages the calling partner may use (by MODEL_USE grant), revoked ones too."""
    out = []
    for package in session.packages.list_all(role=PackageRole.PUBLISHED.value):
        if package.org_id == session.caller.org_id:
            continue
        out.append(
            {
                "id": package.id,
                "card": package.card,
                "package_sha256": package.package_sha256,
                "revoked_at": package.revoked_at,
            }
        )
    return out


def package_bytes(session: Session, package_id: str) -> bytes:
    """The signed package file for a partner holding a MODEL_USE grant (the read is audited)."""
    package = session.packages.get(package_id)
    if package.role != PackageRole.PUBLISHED or package.org_id == session.caller.org_id:
        raise NotFound(f"model_package {package_id!r} does not exist or is not yours")
    if package.revoked_at is not None:
        raise Conflict(f"package {package_id} was revoked by its publisher")
    session.audit.record("download", "model_package", package_id, org_id=package.org_id)
    return session.blob_store.get(package.package_sha256)


# ---- the importing side ------------------------------------------------------------------
def _trusted(ctx: Collab, session: Session) -> dict[str, bytes]:
    """Keys we verify packages with: our partners' on other installs, and those of
    organisations on this install that gave us a MODEL_USE grant in force."""
    trusted = {p.partner_org_id: p.public_pem.encode() for p in session.partners.list_all()}
    grantors = {g.grantor_org_id for g in session.packages.active_grants()} - set(trusted)
    if grantors:
        with ctx.store.system(read_only=True) as system:
            for org_id in grantors:
                public = system.peers.org_public_key(org_id)
                if public is not None:
                    trusted[org_id] = public.encode()
    return trusted


def import_package(
    ctx: Collab, caller: Caller, data: bytes, source: str, part_id: str | None = None
) -> ModelPackage:
    """Verify a package and make it a ready model version of ours; refusals are audited.

    Our copy is a row of our own whose ``origin_id`` is the publisher's package id (so a
    publisher on this same install keeps its row). ``part_id`` names our part the model is
    for; by default the part with the card's part number. A package with a golden set gets
    a parity check queued (``parity.queue_check``).
    """
    if not caller.can(Role.ENGINEER):
        raise Forbidden("importing a model needs the engineer role or higher")
    with ctx.store.session(caller) as session:
        trusted, revoked = _trusted(ctx, session), session.packages.revoked_ids()
    try:
        verified = verify_package(data, trusted, revoked)
    except PackageRefused as exc:
        audit_refusal(
            ctx.store,
            caller.org_id,
            "model_package",
            exc.reason,
            {
                "source": source,
                "sha256": hashlib.sha256(data).hexdigest(),
            },
        )
        raise
    card = verified.card
    with ctx.store.session(caller) as session:
        kept = session.packages.own_by_origin(str(card["package_id"]))
        if kept is not None:
            return kept
        if part_id is not None:
            part = session.parts.own(part_id, "part_id")
        else:
            part = session.parts.own_by_number(str(card["part_number"]))
        if part is None:
            raise InvalidInput(
                "card.part_number",
                f"you have no part {card['part_number']!r}: create it, then import again",
            )
        _adopt_taxonomy(session, card.get("defect_taxonomy") or [])
        sha = store_blob(session, verified.model, MEDIA_TYPE, f"{card['package_id']}.tar")
        package_sha = store_blob(session, data, PACKAGE_MEDIA_TYPE, f"{card['package_id']}.dmp")
        publisher = card.get("publisher", {}).get("name", verified.signer)
        version = session.model_versions.add(
            ModelVersion(
                org_id=caller.org_id,
                name=f"{card['name']} ({publisher} v{card['version']})",
                version=int(card["version"]),
                task=str(card["task"]),
                part_id=part.id,
                blob_sha256=sha,
                card={
                    "threshold": (card.get("metrics") or {}).get("threshold"),
                    "defect_types": card.get("defect_types"),
                    "reference_scores": card.get("reference_scores"),
                    "package": {
                        "package_id": card["package_id"],
                        "publisher": card.get("publisher"),
                        "signer": verified.signer,
                        "signature": "verified",
                        "verified_at": utcnow().isoformat(),
                        "source": source,
                    },
                    "shared_card": card,
                },
                status="ready",
            )
        )
        package = ModelPackage(
            origin_id=str(card["package_id"]),
            org_id=caller.org_id,
            role=PackageRole.IMPORTED,
            publisher_org_id=verified.signer,
            part_id=part.id,
            part_number=card["part_number"],
            model_version_id=version.id,
            package_sha256=package_sha,
            card=card,
        )
        session.packages.add(package)
        session.audit.record(
            "import",
            "model_package",
            package.id,
            detail={"publisher": verified.signer, "version": version.id, "source": source},
        )
        queue_check(session, package)
        return package


def import_shared(ctx: Collab, caller: Caller, package_id: str) -> ModelPackage:
    """Import a package another organisation on this install shared with us.

    The same checks as between installs: the package must be visible to us under the
    publisher's MODEL_USE grant (the read is audited on the publisher's side), and its
    signature is verified with the publisher's key before anything is kept. Our copy is
    for our part that supplies the publisher's part (or has its number).
    """
    if not caller.can(Role.ENGINEER):
        raise Forbidden("importing a model needs the engineer role or higher")
    with ctx.store.session(caller) as session:
        package = session.packages.get(package_id)
        if package.org_id == caller.org_id or package.role != PackageRole.PUBLISHED:
            raise InvalidInput("package_id", "not a package another organisation shared with you")
        data = package_bytes(session, package_id)
        ours = session.parts.list_own(oem_part_id=package.part_id) if package.part_id else []
    return import_package(
        ctx,
        caller,
        data,
        f"organisation {package.org_id} on this install",
        ours[0].id if ours else None,
    )


def _adopt_taxonomy(session: Session, taxonomy: list[dict[str, Any]]) -> None:
    """Add the publisher's defect types we do not have yet, so labels mean the same."""
    have = {d.code for d in session.defect_types.list_all() if d.org_id == session.caller.org_id}
    for item in taxonomy:
        if item.get("code") and item["code"] not in have:
            session.defect_types.add(
                DefectType(
                    org_id=session.caller.org_id,
                    code=str(item["code"]),
                    name=str(item.get("name") or item["code"]),
                    severity=int(item.get("severity") or 2),
                )
            )


def mark_revoked(session: Session, package_id: str) -> bool:
    """A publisher revoked a package we imported: stop using its model version."""
    return session.packages.withdraw(package_id) is not None


def sync_partner(ctx: Collab, caller: Caller, partner_id: str) -> dict[str, Any]:
    """Fetch the partner's grants to us and the packages we may use; import new, drop revoked."""
    with ctx.store.session(caller) as session:
        partner = session.partners.get(partner_id)
    client = ctx.client(partner)
    grants = client.get("/peer/v1/grants")
    as_partner = Caller(
        org_id=partner.partner_org_id, user_id=None, role=Role.ENGINEER, org_kind="partner"
    )
    with ctx.store.session(as_partner) as session:
        for doc in grants:
            receive_grant(session, doc)
    listed = client.get("/peer/v1/packages")
    imported, revoked, refused = [], [], []
    for item in listed:
        with ctx.store.session(caller) as session:
            if item.get("revoked_at"):
                if mark_revoked(session, item["id"]):
                    revoked.append(item["id"])
                continue
            known = session.packages.has(item["id"])
        if known:
            continue
        data = client.get(f"/peer/v1/packages/{item['id']}", raw=True)
        try:
            imported.append(
                import_package(ctx, caller, data, f"partner {partner.partner_org_id}").id
            )
        except (PackageRefused, InvalidInput) as exc:
            refused.append({"package_id": item["id"], "reason": str(exc)})
    with ctx.store.session(caller) as session:
        session.partners.touch(partner.id)
    return {"grants": len(grants), "imported": imported, "revoked": revoked, "refused": refused}
