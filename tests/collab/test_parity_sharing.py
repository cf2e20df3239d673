"""Sharing a model inside one install, and deployment parity of shared models.

One store holds the OEM and its suppliers (the demo's or an industrial complex's install).
The OEM teaches a small model, publishes it with a golden set, and supplier A imports it
under a MODEL_USE grant: its copy is a row of its own, verified like a package from another
install. Parity: the golden set is scored again at the supplier; a changed pre-processing
step there, a golden score changed after signing and a wrong golden score signed by a
faulty publisher are each caught. Runs on SQLite and PostgreSQL (the store fixture).
"""

from __future__ import annotations

import io
import json
import tarfile
from datetime import timedelta

import pytest
from PIL import Image

from dure.collab.packages import PackageRefused, build_package
from dure.collab.signing import KeyRing
from dure.domain.collab import PackageRole
from dure.domain.grants import GrantScope, ShareGrant
from dure.domain.ids import utcnow
from dure.domain.jobs import JobKind, JobStatus
from dure.domain.parts import LabelledImage
from dure.domain.users import Caller, Role
from dure.errors import InvalidInput, NotFound
from dure.services.collaboration import kpi_reports, parity, shared_models
from dure.services.collaboration.context import Collab
from dure.services.demo.sheet_metal import sheet_image
from dure.services.inspection.records import store_blob
from dure.services.inspection.teaching import create_inspection_model, queue_training
from dure.services.platform.jobs import JobRunner
from dure.services.platform.model_files import InspectorCache
from dure.settings import Settings
from dure.store.session import Store
from tests.factories import World
from tests.services.inspection_world import FAST, png

IMAGE_SIDE = 160  # larger than the model's 128 px input: the pipeline resizes them


def _engineer(world: World, who: str) -> Caller:
    company = getattr(world, who)
    return Caller(
        org_id=company.org.id,
        user_id=company.ids["user_engineer"],
        role=Role.ENGINEER,
        org_kind=company.org.kind,
    )


@pytest.fixture
def ctx(store: Store, settings: Settings) -> Collab:
    return Collab(store, KeyRing(settings.key_dir), "http://dure.test", settings.work_dir)


@pytest.fixture
def runner(store: Store, settings: Settings) -> JobRunner:
    return JobRunner(
        store, settings.home / "work", InspectorCache(store.blobs, settings.home / "m")
    )


@pytest.fixture
def oem_model(store: Store, world: World, runner: JobRunner) -> dict[str, object]:
    """The OEM's part OEM-P1 taught from its own images; the ids of three it may share."""
    oem = _engineer(world, "oem")
    images = [("good", 100 + k) for k in range(12)]
    images += [("scratch", 200 + k) for k in range(3)] + [("dent", 300 + k) for k in range(3)]
    ids = []
    with store.session(oem) as s:
        for label, seed in images:
            data = png(sheet_image(seed, label, IMAGE_SIDE).pixels)
            sha = store_blob(s, data, "image/png", f"{label}-{seed}.png")
            image = s.labelled_images.add(
                LabelledImage(
                    org_id=oem.org_id,
                    part_id=world.oem.ids["part"],
                    image_sha256=sha,
                    split="train" if label == "good" else "test",
                    label=label,
                    source_name=f"{label}-{seed}.png",
                )
            )
            ids.append(image.id)
        model = create_inspection_model(s, world.oem.ids["part"], settings=FAST)
        job = queue_training(s, model.id)
    runner.run_next(job.id)
    with store.session(oem) as s:
        assert s.jobs.get(job.id).status == JobStatus.SUCCEEDED
    return {"model_id": model.id, "golden": [ids[0], ids[5], ids[-1]]}


def _grant(store: Store, world: World, supplier: str, scope: GrantScope, part_key: str) -> str:
    """MODEL_USE: the OEM grants ``supplier``; other scopes: ``supplier`` grants the OEM."""
    giver, taker = ("oem", supplier) if scope == GrantScope.MODEL_USE else (supplier, "oem")
    company = getattr(world, giver)
    admin = Caller(org_id=company.org.id, user_id=company.ids["user_admin"], role=Role.ADMIN)
    with store.session(admin) as s:
        grant = s.grants.grant(
            ShareGrant(
                grantor_org_id=company.org.id,
                grantee_org_id=getattr(world, taker).org.id,
                scope=scope,
                created_by=None,
                part_id=company.ids[part_key],
            )
        )
    return grant.id


def _publish(ctx: Collab, world: World, oem_model: dict, runner: JobRunner, golden: bool = True):  # type: ignore[no-untyped-def]
    ids = oem_model["golden"] if golden else []
    return shared_models.publish(
        ctx, _engineer(world, "oem"), str(oem_model["model_id"]), list(ids), runner.cache
    )


def _run_parity(store: Store, runner: JobRunner, caller: Caller) -> dict:
    with store.session(caller) as s:
        jobs = [j for j in s.jobs.list_all() if j.kind == JobKind.CHECK_PARITY]
    queued = [j for j in jobs if j.status == JobStatus.QUEUED]
    assert queued, "importing a package with a golden set queues a parity check"
    for job in queued:
        runner.run_next(job.id)
    with store.session(caller) as s:
        done = s.jobs.get(queued[0].id)
    assert done.status == JobStatus.SUCCEEDED, done.error
    return done.result


def test_sharing_inside_one_install_gives_the_supplier_its_own_row(  # type: ignore[no-untyped-def]
    store: Store, world: World, ctx: Collab, oem_model, runner: JobRunner
) -> None:
    published = _publish(ctx, world, oem_model, runner, golden=False)
    sup = _engineer(world, "a")
    with pytest.raises(NotFound):  # no MODEL_USE grant yet: the package is not ours to see
        shared_models.import_shared(ctx, sup, published.id)
    grant_id = _grant(store, world, "a", GrantScope.MODEL_USE, "part")
    imported = shared_models.import_shared(ctx, sup, published.id)
    assert imported.id != published.id and imported.origin_id == published.id
    assert imported.org_id == world.a.org.id and imported.role == PackageRole.IMPORTED
    assert imported.part_id == world.a.ids["part"]  # the part that supplies the OEM's part
    assert imported.publisher_org_id == world.oem.org.id
    again = shared_models.import_shared(ctx, sup, published.id)
    assert again.id == imported.id  # importing twice keeps one copy
    with store.session(_engineer(world, "oem")) as s:
        mine = s.packages.get(published.id)
        assert mine.role == PackageRole.PUBLISHED and mine.org_id == world.oem.org.id
        downloads = s.audit_events.list_all(action="download")
    assert any(e.resource_id == published.id for e in downloads)  # the read is audited
    with store.session(sup) as s:
        version = s.model_versions.get(imported.model_version_id or "")
    assert version.card["package"]["package_id"] == published.id
    assert version.card["package"]["signature"] == "verified"
    # supplier B holds no grant: refused; a revoked grant refuses A's next import
    with pytest.raises(NotFound):
        shared_models.import_shared(ctx, _engineer(world, "b"), published.id)
    with store.session(Caller(org_id=world.oem.org.id, user_id=None, role=Role.ADMIN)) as s:
        s.grants.revoke(grant_id)
    with pytest.raises(NotFound):
        shared_models.import_shared(ctx, sup, published.id)
    # the OEM revokes the package: A's copy and its model version stop at once
    shared_models.revoke_package(ctx, _engineer(world, "oem"), published.id)
    with store.session(sup) as s:
        assert s.packages.get(imported.id).revoked_at is not None
        assert s.model_versions.get(imported.model_version_id or "").status == "revoked"
        assert any(e.resource_id == imported.id for e in s.audit_events.list_all(action="revoke"))


def test_a_package_file_of_an_org_without_a_grant_is_refused(  # type: ignore[no-untyped-def]
    store: Store, world: World, ctx: Collab, oem_model, runner: JobRunner
) -> None:
    published = _publish(ctx, world, oem_model, runner, golden=False)
    with store.session(_engineer(world, "oem")) as s:
        data = s.blob_store.get(s.packages.get(published.id).package_sha256)
    with pytest.raises(PackageRefused, match="not a trusted partner"):
        shared_models.import_package(ctx, _engineer(world, "b"), data, "upload")


def test_parity_holds_on_import_and_reaches_the_kpi_report_and_scorecard(  # type: ignore[no-untyped-def]
    store: Store, world: World, ctx: Collab, oem_model, runner: JobRunner
) -> None:
    published = _publish(ctx, world, oem_model, runner)
    golden = published.card["golden"]
    assert len(golden["images"]) == 3 and golden["environment"]["onnxruntime"]
    _grant(store, world, "a", GrantScope.MODEL_USE, "part")
    sup = _engineer(world, "a")
    shared_models.import_shared(ctx, sup, published.id)
    result = _run_parity(store, runner, sup)
    assert result["status"] == "ok", result
    assert result["max_score_drift"] <= 1e-4
    _grant(store, world, "a", GrantScope.KPI_REPORTS, "part")
    now = utcnow()
    report = kpi_reports.create_report(ctx, sup, world.a.ids["part"], now - timedelta(7), now)
    assert report.figures["parity"]["status"] == "ok"
    assert report.figures["parity"]["models"][0]["package_id"] == published.id
    with store.session(_engineer(world, "oem")) as s:
        rows = kpi_reports.scorecard(s)["suppliers"]
    row = next(r for r in rows if r["supplier_org_id"] == world.a.org.id)
    assert row["parity"]["status"] == "ok" and row["parity"]["max_score_drift"] <= 1e-4


def test_parity_catches_a_changed_preprocessing_step_at_the_supplier(  # type: ignore[no-untyped-def]
    store: Store,
    world: World,
    ctx: Collab,
    oem_model,
    runner: JobRunner,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    published = _publish(ctx, world, oem_model, runner)
    _grant(store, world, "a", GrantScope.MODEL_USE, "part")
    sup = _engineer(world, "a")
    shared_models.import_shared(ctx, sup, published.id)
    # the supplier's image pipeline resizes with another filter than the OEM's
    monkeypatch.setattr(Image, "BILINEAR", Image.Resampling.NEAREST)
    result = _run_parity(store, runner, sup)
    assert result["status"] == "mismatch", result
    assert "pre-processing differs" in result["cause"]
    assert result["max_score_drift"] > 1e-4
    _grant(store, world, "a", GrantScope.KPI_REPORTS, "part")
    now = utcnow()
    kpi_reports.create_report(ctx, sup, world.a.ids["part"], now - timedelta(7), now)
    with store.session(_engineer(world, "oem")) as s:
        row = next(
            r
            for r in kpi_reports.scorecard(s)["suppliers"]
            if r["supplier_org_id"] == world.a.org.id
        )
    assert row["parity"]["status"] == "mismatch"
    assert "pre-processing" in row["parity"]["cause"]


def _members(data: bytes) -> dict[str, bytes]:
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers()}  # type: ignore[union-attr]


def _tar(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        for name, content in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
    return out.getvalue()


def test_parity_a_golden_score_changed_after_signing_is_refused(  # type: ignore[no-untyped-def]
    store: Store, world: World, ctx: Collab, oem_model, runner: JobRunner
) -> None:
    published = _publish(ctx, world, oem_model, runner)
    _grant(store, world, "a", GrantScope.MODEL_USE, "part")
    with store.session(_engineer(world, "oem")) as s:
        data = s.blob_store.get(published.package_sha256)
    members = _members(data)
    card = json.loads(members["card.json"])
    card["golden"]["images"][0]["score"] += 0.5
    forged = _tar({**members, "card.json": json.dumps(card, sort_keys=True).encode()})
    sup = _engineer(world, "a")
    with pytest.raises(PackageRefused, match="signature does not match"):
        shared_models.import_package(ctx, sup, forged, "upload")
    golden = bytearray(members["golden.bin"])
    golden[len(golden) // 2] ^= 0x01
    with pytest.raises(PackageRefused, match="golden set differs from what was signed"):
        shared_models.import_package(ctx, sup, _tar({**members, "golden.bin": bytes(golden)}), "x")
    with store.session(sup) as s:
        assert s.packages.list_own() == []  # nothing refused was kept
        reasons = [e.detail["reason"] for e in s.audit_events.list_all(action="refuse")]
    assert any("golden set differs" in r for r in reasons)


def test_parity_a_wrong_golden_score_signed_by_a_faulty_publisher_is_caught(  # type: ignore[no-untyped-def]
    store: Store, world: World, ctx: Collab, oem_model, runner: JobRunner
) -> None:
    oem = _engineer(world, "oem")
    with store.session(oem, read_only=True) as s:
        model = s.model_versions.get(str(oem_model["model_id"]))
    golden, golden_bin = parity.make_golden(
        store,
        oem,
        model,
        list(oem_model["golden"]),
        runner.cache,  # type: ignore[arg-type]
    )
    golden["images"][1]["score"] *= 1.01  # recorded wrongly before signing
    with store.session(oem) as s:
        card = {**shared_models.package_card(s, model), "golden": golden}
        model_bytes = s.blob_store.get(model.blob_sha256 or "")
    ctx.own_key(oem.org_id)
    data = build_package(
        model_bytes, card, oem.org_id, ctx.keys.private_pem(oem.org_id), golden_bin
    )
    _grant(store, world, "a", GrantScope.MODEL_USE, "part")
    sup = _engineer(world, "a")
    imported = shared_models.import_package(ctx, sup, data, "upload", world.a.ids["part"])
    result = _run_parity(store, runner, sup)
    assert result["status"] == "mismatch"
    assert result["cause"].startswith("maps match but scores differ")
    with store.session(sup) as s:
        kept = s.packages.get(imported.id).parity
    assert kept is not None and kept["differing"] == [golden["images"][1]["name"]]


def test_parity_is_checked_again_on_a_schedule(  # type: ignore[no-untyped-def]
    store: Store, world: World, ctx: Collab, oem_model, runner: JobRunner
) -> None:
    published = _publish(ctx, world, oem_model, runner)
    _grant(store, world, "a", GrantScope.MODEL_USE, "part")
    sup = _engineer(world, "a")
    shared_models.import_shared(ctx, sup, published.id)
    _run_parity(store, runner, sup)
    assert parity.queue_due(store) == 0  # just checked
    later = utcnow() + parity.PARITY_EVERY + timedelta(hours=1)
    assert parity.queue_due(store, now=later) == 1
    assert parity.queue_due(store, now=later) == 0  # once per period
    assert _run_parity(store, runner, sup)["status"] == "ok"


def test_publishing_a_golden_set_checks_the_images(  # type: ignore[no-untyped-def]
    store: Store, world: World, ctx: Collab, oem_model, runner: JobRunner
) -> None:
    oem = _engineer(world, "oem")
    with store.session(_engineer(world, "a")) as s:
        foreign = s.labelled_images.list_own()[0].id
    for ids, field in (
        ([foreign], "golden_image_ids.0"),
        ([oem_model["golden"][0]] * 2, "golden_image_ids"),
    ):
        with pytest.raises(InvalidInput) as caught:
            shared_models.publish(ctx, oem, str(oem_model["model_id"]), ids, runner.cache)
        assert caught.value.field == field
    with store.session(oem) as s:
        assert s.packages.list_own() == []


def test_parity_and_in_install_import_through_the_api(  # type: ignore[no-untyped-def]
    client, store: Store, world: World, oem_model
) -> None:
    oem, sup = world.oem.auth("engineer"), world.a.auth("engineer")
    published = client.post(
        f"/api/model-versions/{oem_model['model_id']}/publish",
        json={"golden_image_ids": oem_model["golden"][:2]},
        headers=oem,
    )
    assert published.status_code == 201, published.text
    package_id = published.json()["id"]
    assert client.post(f"/api/packages/{package_id}/import", headers=sup).status_code == 404
    _grant(store, world, "a", GrantScope.MODEL_USE, "part")
    shared = [p for p in client.get("/api/packages", headers=sup).json()["items"]]
    assert [p["id"] for p in shared if p["role"] == "published"] == [package_id]
    imported = client.post(f"/api/packages/{package_id}/import", headers=sup)
    assert imported.status_code == 201, imported.text
    body = imported.json()
    assert body["origin_id"] == package_id and body["id"] != package_id
    queued = client.post(f"/api/packages/{body['id']}/parity", headers=sup)
    assert queued.status_code == 202 and queued.json()["kind"] == "check_parity"
    # the publisher's own row is not a package it imported: no parity check there
    assert client.post(f"/api/packages/{package_id}/parity", headers=oem).status_code == 409
    bad = client.post(
        f"/api/model-versions/{oem_model['model_id']}/publish",
        json={"golden_image_ids": ["nope"]},
        headers=oem,
    )
    assert bad.status_code == 422 and "golden_image_ids.0" in bad.text
