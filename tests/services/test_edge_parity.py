"""Parity on edge boxes: a box scores its package's golden set when it loads it, reports
to the site, and the site's device list shows ✓ or ✗ with the likely cause; a changed
pre-processing step on the box is caught. Bad reports are refused naming the field."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from dure.collab.signing import sign_request
from dure.edge import parity as edge_parity
from dure.edge.forwarder import Forwarder
from dure.edge.identity import EdgeIdentity
from dure.edge.images import decode_image
from dure.edge.models import ModelShelf
from dure.edge.site import SiteClient
from dure.edge.spool import ResultSpool
from dure.store.session import Store
from tests.factories import World
from tests.services.test_edge_site import DEVICES, register

PARITY = "/api/edge/v1/parity"


def _box(client: TestClient, world: World, trained: str, home: Path) -> dict[str, Any]:
    made, private = register(client, world.a, model_version_id=trained)
    device = made.json()
    operator = world.a.auth("operator")
    pointer = client.get(f"/api/edge/v1/model?edge_id={device['id']}", headers=operator).json()
    data = client.get(f"/api/edge/v1/packages/{pointer['package_id']}", headers=operator).content
    identity = EdgeIdentity(
        device["id"], world.a.org.id, "box", "http://testserver", "t",
        device["site_public_pem"], device["site_fingerprint"],
    )  # fmt: skip
    shelf = ModelShelf(home / "models", identity)
    shelf.install(data)
    site = SiteClient("http://testserver", "unused")
    site.http.close()
    site.http = client  # the real app, in process
    forwarder = Forwarder(ResultSpool(home / "spool"), site, identity, private)
    return {
        "device": device, "private": private, "package_id": pointer["package_id"],
        "shelf": shelf, "forwarder": forwarder,
    }  # fmt: skip


def _listed(client: TestClient, world: World, edge_id: str) -> dict[str, Any]:
    devices = client.get(DEVICES, headers=world.a.auth("viewer")).json()["devices"]
    return next(d for d in devices if d["id"] == edge_id)


def test_a_box_checks_the_golden_set_and_a_changed_preprocessing_shows_on_the_site(
    client: TestClient,
    store: Store,
    world: World,
    trained: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    client.headers.update(world.a.auth("operator"))
    box = _box(client, world, trained, tmp_path)
    edge_id, package_id = box["device"]["id"], box["package_id"]
    model = box["shelf"].load(package_id)
    assert model.parity is not None, "the site's package carries no golden set"
    assert model.parity["status"] == "ok", model.parity
    assert model.parity["images"] >= 2 and model.parity["max_score_drift"] <= 1e-4
    kept = json.loads((tmp_path / "models" / package_id / "parity.json").read_text())
    assert kept == model.parity
    box["forwarder"].report_parity(model.parity)
    assert box["forwarder"].send_parity() and not box["forwarder"].send_parity()
    shown = _listed(client, world, edge_id)
    assert shown["parity"]["status"] == "ok" and shown["parity_current"]

    # the box's image pipeline changes (a camera driver now delivers darker frames)
    def darker(data: bytes, name: str) -> np.ndarray:
        return (decode_image(data, name).astype(np.float32) * 0.8).astype(np.uint8)

    monkeypatch.setattr(edge_parity, "decode_image", darker)
    model = box["shelf"].load(package_id)
    assert model.parity["status"] == "mismatch"
    assert "input" in model.parity["cause"] or "pre-processing" in model.parity["cause"]
    box["forwarder"].report_parity(model.parity)
    assert box["forwarder"].send_parity()
    shown = _listed(client, world, edge_id)["parity"]
    assert shown["status"] == "mismatch" and shown["cause"] == model.parity["cause"]
    assert shown["differing"] and shown["max_score_drift"] > 1e-4
    with store.session(_engineer(world), read_only=True) as s:
        audited = [e.detail for e in s.audit_events.list_all() if e.action == "parity"]
    assert sorted(d["status"] for d in audited) == ["mismatch", "ok"]
    alerts = client.get("/api/alerts", headers=world.a.auth("viewer")).json()["items"]
    (alert,) = [a for a in alerts if a["kind"] == "parity"]
    assert alert["subject_id"] == edge_id and alert["severity"] == "critical"
    assert model.parity["cause"] in alert["message"]


def _engineer(world: World):  # type: ignore[no-untyped-def]
    from tests.services.inspection_world import engineer_of_a

    return engineer_of_a(world)


def _post(client: TestClient, world: World, box: dict[str, Any], body: dict[str, Any], **kw: Any):  # type: ignore[no-untyped-def]
    raw = json.dumps({"edge_id": box["device"]["id"], **body}).encode()
    headers = sign_request(box["private"], "POST", PARITY, box["device"]["id"], world.a.org.id, raw)
    if kw.get("tamper"):
        raw = raw.replace(b'"mismatch"', b'"ok"')
    headers = {
        **headers,
        **world.a.auth(kw.get("role", "operator")),
        "content-type": "application/json",
    }
    return client.post(PARITY, content=raw, headers=headers)


def test_a_bad_parity_report_is_refused_naming_the_field(
    client: TestClient, world: World, trained: str, tmp_path: Path
) -> None:
    box = _box(client, world, trained, tmp_path)
    good = {
        "package_id": box["package_id"], "status": "mismatch", "images": 4,
        "max_score_drift": 0.2, "max_relative_score_drift": 0.1, "max_map_drift": 0.3,
        "cause": "input differs", "differing": ["a.png"], "checked_at": "2026-12-01T08:00:00+00:00",
    }  # fmt: skip
    for field, value in [
        ("status", "great"),
        ("max_score_drift", float("nan")),
        ("max_map_drift", -1),
        ("images", True),
        ("differing", ["x" * 300]),
        ("checked_at", "yesterday"),
        ("package_id", "f" * 32),  # not one of this site's packages
    ]:
        answer = _post(client, world, box, {**good, field: value})
        assert answer.status_code == 422, (field, answer.text)
        assert field in answer.json()["field"], answer.json()
    assert _post(client, world, box, good, tamper=True).status_code == 401
    assert _post(client, world, box, good, role="viewer").status_code == 403
    assert _listed(client, world, box["device"]["id"])["parity"] is None
    assert _post(client, world, box, good).status_code == 200
    assert _listed(client, world, box["device"]["id"])["parity"]["status"] == "mismatch"
