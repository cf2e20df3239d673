"""Maintenance events and the run-to-failure model over HTTP: record, list and delete
events, bad input named, another organisation's machine not found, and training refused
(409, saying how many) while the machine's kind has too few failed runs."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from dure.services.platform.accounts import system_caller
from tests.factories import World
from tests.services.run_to_failure_world import press, run_fleet


def test_events_are_recorded_listed_and_deleted(client, world: World) -> None:  # type: ignore[no-untyped-def]
    asset = world.a.ids["asset"]
    url = f"/api/assets/{asset}/maintenance-events"
    operator = world.a.auth("operator")
    before = client.get(url, headers=operator)
    assert before.status_code == 200 and [e["id"] for e in before.json()] == [
        world.a.ids["maintenance_event"]
    ]
    made = client.post(
        url,
        json={"kind": "failure", "occurred_at": "2026-01-04T06:30:00+09:00", "note": "seized"},
        headers=operator,
    )
    assert made.status_code == 201, made.text
    event = made.json()
    assert event["kind"] == "failure" and event["occurred_at"].startswith("2026-01-03T21:30")
    listed = client.get(url, headers=world.a.auth("viewer")).json()
    # newest first by when it happened: the factory's repair (5 January) comes first
    assert [e["id"] for e in listed] == [world.a.ids["maintenance_event"], event["id"]]
    page = client.get(f"/api/machines/{asset}", headers=operator)
    assert page.status_code in (200, 409)  # the factory's press has 4 readings: too few
    gone = client.delete(f"{url}/{event['id']}", headers=operator)
    assert gone.status_code == 200 and gone.json()["id"] == event["id"]
    assert client.delete(f"{url}/{event['id']}", headers=operator).status_code == 404
    audit = client.get(
        "/api/audit-events", params={"limit": 100}, headers=world.a.auth("admin")
    ).json()["items"]
    done = {(e["action"], e["resource_id"]) for e in audit if e["resource"] == "maintenance_event"}
    assert {("create", event["id"]), ("delete", event["id"])} <= done


def test_bad_events_are_refused_naming_the_field(client, world: World) -> None:  # type: ignore[no-untyped-def]
    url = f"/api/assets/{world.a.ids['asset']}/maintenance-events"
    auth = world.a.auth("operator")
    future = (datetime.now(UTC) + timedelta(days=2)).isoformat()
    for body, field in (
        ({"kind": "explosion", "occurred_at": "2026-01-03T00:00:00Z"}, "kind"),
        ({"kind": "failure", "occurred_at": future}, "occurred_at"),
        ({"kind": "failure", "occurred_at": "1960-01-01T00:00:00Z"}, "occurred_at"),
        ({"kind": "failure"}, "occurred_at"),
        ({"kind": "failure", "occurred_at": "2026-01-03T00:00:00Z", "extra": 1}, "extra"),
    ):
        bad = client.post(url, json=body, headers=auth)
        assert bad.status_code == 422 and field in bad.text, (body, bad.text)
    assert len(client.get(url, headers=auth).json()) == 1  # nothing was written
    viewer = client.post(
        url,
        json={"kind": "repair", "occurred_at": "2026-01-03T00:00:00Z"},
        headers=world.a.auth("viewer"),
    )
    assert viewer.status_code == 403


def test_another_organisations_machine_is_not_found(client, world: World) -> None:  # type: ignore[no-untyped-def]
    asset = world.a.ids["asset"]
    theirs = world.b.auth("admin")
    url = f"/api/assets/{asset}/maintenance-events"
    body = {"kind": "failure", "occurred_at": "2026-01-03T00:00:00Z"}
    assert client.get(url, headers=theirs).status_code == 404
    assert client.post(url, json=body, headers=theirs).status_code == 404
    event = world.a.ids["maintenance_event"]
    assert client.delete(f"{url}/{event}", headers=theirs).status_code == 404
    own_asset = world.b.ids["asset"]
    crossed = client.delete(f"/api/assets/{own_asset}/maintenance-events/{event}", headers=theirs)
    assert crossed.status_code == 404
    assert client.post(f"/api/assets/{asset}/rul-model", headers=theirs).status_code == 404


def test_training_needs_two_failed_runs(client, store, world: World) -> None:  # type: ignore[no-untyped-def]
    asset = world.a.ids["asset"]  # of the default kind "machine"
    auth = world.a.auth("engineer")
    generic = client.post(f"/api/assets/{asset}/rul-model", headers=auth)
    assert generic.status_code == 409, generic.text
    assert "asset_id" in generic.text and "set the asset's kind" in generic.text
    asset = press(store, system_caller(world.a.org), "press-2", 30.0, 1.0, seed=1)
    refused = client.post(f"/api/assets/{asset}/rul-model", headers=auth)
    assert refused.status_code == 409, refused.text
    assert "asset_id" in refused.text and "have 0 recorded run" in refused.text
    bad = client.post(f"/api/assets/{asset}/rul-model", json={"epochs": 0}, headers=auth)
    assert bad.status_code == 422 and "epochs" in bad.text
    jobs = client.get("/api/jobs", params={"kind": "train_rul_model"}, headers=auth).json()
    assert jobs["items"] == []


def test_a_model_trained_over_http_gives_the_health_its_rul(client, store, world: World) -> None:  # type: ignore[no-untyped-def]
    caller = system_caller(world.a.org)
    fleet = run_fleet(store, caller)
    worn = press(store, caller, "press-new", 30.0, 26.0, seed=40)
    auth = world.a.auth("engineer")
    queued = client.post(
        f"/api/assets/{fleet[0]}/rul-model", json={"epochs": 40, "members": 1}, headers=auth
    )
    assert queued.status_code == 202, queued.text
    job = queued.json()
    assert job["kind"] == "train_rul_model" and job["params"]["asset_kind"] == "press"
    deadline = time.monotonic() + 300
    while job["status"] not in ("succeeded", "failed") and time.monotonic() < deadline:
        time.sleep(0.5)  # the install's job runner trains it on its training lane
        job = client.get(f"/api/jobs/{job['id']}", headers=auth).json()
    assert job["status"] == "succeeded", job
    health = client.get(f"/api/assets/{worn}/health", headers=auth)
    assert health.status_code == 200, health.text
    model = health.json()["model"]
    assert (
        model["rul_source"] == "trained"
        and model["rul_model"]["model_id"] == job["result"]["model_id"]
    )
    assert model["source"] == "trained on 6 run-to-failure histories"
    rows = {m["name"]: m for m in client.get("/api/machines", headers=auth).json()["machines"]}
    assert rows["press-new"]["rul_source"] == "trained"
    assert rows["press"]["rul_source"] is None  # the factory's press has too few readings
    assert client.get(f"/api/assets/{worn}/health", headers=world.b.auth()).status_code == 404
