"""Connectors over HTTP: the same configuration as `dure connect`, checked, secrets hidden."""

from __future__ import annotations

from tests.factories import World

CONFIG = {
    "host": "broker.plant.local",
    "port": 8883,
    "tls": True,
    "client_id": "dure-line2",
    "username": "dure",
    "password": "s3cret",
    "topics": [
        {"filter": "plant/line2/+/json", "asset_level": 2},
        {
            "filter": "plant/line2/press9/bin",
            "asset": "press9",
            "format": "binary",
            "channels": ["force", "stroke"],
        },
    ],
}


def test_configure_list_change_and_switch_off(client, world: World) -> None:  # type: ignore[no-untyped-def]
    auth = world.a.auth("engineer")
    made = client.post(
        "/api/connectors", json={"name": "line2", "kind": "mqtt", "config": CONFIG}, headers=auth
    )
    assert made.status_code == 201, made.text
    connector = made.json()
    assert connector["config"]["password"] == "********"
    assert "s3cret" not in made.text
    assert connector["config"]["policy"]["batch_max_ms"] == 20  # defaults filled in
    listed = client.get("/api/connectors", headers=auth).json()
    assert {c["name"] for c in listed["items"]} == {"line2", "press-line"}
    assert "s3cret" not in str(listed)

    # an unchanged (hidden) password is kept when the rest of the config changes
    changed = dict(connector["config"], port=1883)
    patched = client.patch(
        f"/api/connectors/{connector['id']}", json={"config": changed}, headers=auth
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["config"]["port"] == 1883
    off = client.patch(f"/api/connectors/{connector['id']}", json={"enabled": False}, headers=auth)
    assert off.json()["enabled"] is False
    assert client.get(f"/api/connectors/{connector['id']}/rejects", headers=auth).json() == []


def test_bad_configuration_is_refused_naming_the_field(client, world: World) -> None:  # type: ignore[no-untyped-def]
    auth = world.a.auth("engineer")
    bad = dict(CONFIG, topics=[{"filter": "plant/#", "asset_level": 1, "format": "csv"}])
    resp = client.post(
        "/api/connectors", json={"name": "bad", "kind": "mqtt", "config": bad}, headers=auth
    )
    assert resp.status_code == 422
    assert "config.topics.0.format" in resp.json()["detail"]
    names = [c["name"] for c in client.get("/api/connectors", headers=auth).json()["items"]]
    assert "bad" not in names


def test_operators_cannot_configure_connectors(client, world: World) -> None:  # type: ignore[no-untyped-def]
    resp = client.post(
        "/api/connectors",
        json={"name": "x", "kind": "mqtt", "config": CONFIG},
        headers=world.a.auth("operator"),
    )
    assert resp.status_code == 403
