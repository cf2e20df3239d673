"""Root-cause requests over the API inside one install: ask, review, approve, the page view."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from dure.store.session import Store
from tests.factories import World
from tests.services.root_cause_world import HOT, build_root_cause_world


def test_ask_review_approve_and_the_pages(
    client: TestClient, store: Store, world: World, tmp_path: Path
) -> None:
    rc = build_root_cause_world(store, world, tmp_path)
    admin_a, oem = world.a.auth("admin"), world.oem.auth("engineer")
    r = client.put(
        f"/api/grants/{rc.grant_id}/review-before-send",
        json={"review_before_send": True},
        headers=world.a.auth("engineer"),
    )
    assert r.status_code == 403
    r = client.put(
        f"/api/grants/{rc.grant_id}/review-before-send",
        json={"review_before_send": True},
        headers=admin_a,
    )
    assert r.status_code == 200 and r.json()["review_before_send"] is True
    lot = sorted(HOT)[-1]
    body = {"supplier_org_id": world.a.org.id, "lots": [lot], "defect_type": "crack"}
    r = client.post("/api/root-cause/requests", json={**body, "found_at": "roof"}, headers=oem)
    assert r.status_code == 422 and "found_at" in r.text
    r = client.post("/api/root-cause/requests", json={**body, "found_at": "assembly"}, headers=oem)
    assert r.status_code == 201, r.text
    assert r.json()["status"] == "waiting"
    page = client.get("/api/dashboard/root-cause", headers=admin_a).json()
    assert page["pending_review"] == 1 and page["grants_given"][0]["review_before_send"]
    (pending,) = page["shared"]
    assert pending["partner"] == world.oem.org.name and pending["answer_text"]
    r = client.post(
        f"/api/root-cause/requests/{pending['id']}/approve", headers=world.oem.auth("admin")
    )
    assert r.status_code == 404  # not the OEM's row to approve
    r = client.post(f"/api/root-cause/requests/{pending['id']}/approve", headers=admin_a)
    assert r.status_code == 200 and r.json()["status"] == "answered"
    page = client.get("/api/dashboard/root-cause", headers=oem).json()
    assert page["suppliers"] == [{"org_id": world.a.org.id, "name": world.a.org.name}]
    (traced,) = page["traced"]
    assert traced["status"] == "answered" and traced["found_at"] == "assembly"
    (finding,) = traced["findings"]
    assert finding["lot"] == lot and finding["driver"]["name"] == "die_temp_C"
    assert finding["driver"]["shift_sigma"] > 1.5 and finding["top_cause"] == "die_temp_C"
    assert page["shared"] == []  # the OEM answered nothing
