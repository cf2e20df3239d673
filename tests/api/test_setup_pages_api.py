"""What the setup, alerts and connectors pages need from the API: the setup view, alert
filters and the connection test."""

from __future__ import annotations

from pathlib import Path

import pytest

from dure.bench.mosquitto import Mosquitto, mosquitto_binary
from dure.ports import free_port
from dure.settings import Settings
from dure.store.session import Store
from tests.factories import World, build_world

MQTT = {
    "host": "127.0.0.1",
    "client_id": "dure-test",
    "topics": [{"filter": "a/+", "asset_level": 1}],
}


def test_setup_view_lists_own_plant_and_marks_inherited_defect_types(client, world: World) -> None:  # type: ignore[no-untyped-def]
    view = client.get("/api/dashboard/setup", headers=world.a.auth("viewer"))
    assert view.status_code == 200, view.text
    body = view.json()
    assert [s["id"] for s in body["sites"]] == [world.a.ids["site"]]
    assert [li["id"] for li in body["lines"]] == [world.a.ids["line"]]
    assert [s["id"] for s in body["stations"]] == [world.a.ids["station"]]
    assert [p["id"] for p in body["parts"]] == [world.a.ids["part"]]
    (asset,) = body["assets"]
    assert asset["id"] == world.a.ids["asset"]
    assert [c["id"] for c in asset["channels"]] == [world.a.ids["channel"]]
    kinds = {d["code"]: (d["inherited"], d["owner"]) for d in body["defect_types"]}
    assert kinds == {"scratch": (True, "OEM Co"), "sup-a-burr": (False, "Supplier A")}
    # nothing of supplier B
    assert world.b.ids["site"] not in view.text and "sup-b-burr" not in view.text


def test_alerts_filter_by_kind_and_severity(client, world: World) -> None:  # type: ignore[no-untyped-def]
    auth = world.a.auth("operator")
    spc = client.get("/api/alerts?kind=spc_rule&severity=warning", headers=auth).json()
    assert [a["id"] for a in spc["items"]] == [world.a.ids["alert"]]
    assert client.get("/api/alerts?kind=machine_anomaly", headers=auth).json()["items"] == []
    assert client.get("/api/alerts?severity=critical", headers=auth).json()["items"] == []
    acked = client.post(f"/api/alerts/{world.a.ids['alert']}/acknowledge", headers=auth)
    assert acked.json()["status"] == "acknowledged"
    assert client.get("/api/alerts?status=open&kind=spc_rule", headers=auth).json()["items"] == []
    listed = client.get("/api/alerts?status=acknowledged&kind=spc_rule", headers=auth).json()
    assert [a["id"] for a in listed["items"]] == [world.a.ids["alert"]]


def test_alert_filters_refuse_bad_values_naming_them(client, world: World) -> None:  # type: ignore[no-untyped-def]
    auth = world.a.auth("viewer")
    bad = client.get("/api/alerts?kind=fire", headers=auth)
    assert bad.status_code == 422 and "kind" in bad.text
    long = client.get("/api/alerts?severity=" + "x" * 40, headers=auth)
    assert long.status_code == 422 and "severity" in long.text


def test_another_organisations_alert_is_neither_listed_nor_acknowledged(
    client, world: World
) -> None:  # type: ignore[no-untyped-def]
    auth = world.b.auth("admin")
    listed = client.get("/api/alerts?kind=spc_rule", headers=auth).json()["items"]
    assert world.a.ids["alert"] not in [a["id"] for a in listed]
    refused = client.post(f"/api/alerts/{world.a.ids['alert']}/acknowledge", headers=auth)
    assert refused.status_code == 404
    seen = client.get("/api/alerts", headers=world.a.auth("viewer")).json()["items"]
    assert [a["status"] for a in seen if a["id"] == world.a.ids["alert"]] == ["open"]


def test_connection_test_checks_the_config_naming_the_field(client, world: World) -> None:  # type: ignore[no-untyped-def]
    auth = world.a.auth("engineer")
    bad = dict(MQTT, topics=[{"filter": "a/+", "asset_level": 1, "format": "csv"}])
    resp = client.post("/api/connectors/test", json={"kind": "mqtt", "config": bad}, headers=auth)
    assert resp.status_code == 422 and "config.topics.0.format" in resp.json()["detail"]
    resp = client.post(
        "/api/connectors/test",
        json={"kind": "opcua", "config": {"endpoint": "http://x", "tags": []}},
        headers=auth,
    )
    assert resp.status_code == 422 and "config.endpoint" in resp.json()["detail"]
    resp = client.post("/api/connectors/test", json={"kind": "amqp", "config": MQTT}, headers=auth)
    assert resp.status_code == 422 and "kind" in resp.text


def test_connection_test_needs_an_engineer(client, world: World) -> None:  # type: ignore[no-untyped-def]
    resp = client.post(
        "/api/connectors/test",
        json={"kind": "mqtt", "config": MQTT},
        headers=world.a.auth("operator"),
    )
    assert resp.status_code == 403


def test_connection_test_tries_a_factory_network_address_as_the_runner_would(
    client, world: World
) -> None:  # type: ignore[no-untyped-def]
    # brokers live on the factory network: the partner/webhook policy does not apply
    closed = dict(MQTT, port=free_port())
    resp = client.post(
        "/api/connectors/test",
        json={"kind": "mqtt", "config": closed},
        headers=world.a.auth("engineer"),
    )
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["ok"] is False and body["field"] == "config.host"
    assert "refused" in body["reason"] and "DURE_ALLOW_PRIVATE_ADDRESSES" not in body["reason"]


@pytest.fixture
def open_client(settings: Settings, store: Store):  # type: ignore[no-untyped-def]
    """An app whose operator allows private addresses (a broker on the factory network)."""
    from fastapi.testclient import TestClient

    from dure.api.app import create_app

    allowing = settings.model_copy(update={"allow_private_addresses": True})
    with TestClient(create_app(allowing, store)) as test_client:
        yield test_client, build_world(store)


def test_connection_test_reports_a_closed_port_and_a_real_broker(
    open_client, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    client, world = open_client
    auth = world.a.auth("engineer")
    closed = dict(MQTT, port=free_port())
    resp = client.post(
        "/api/connectors/test", json={"kind": "mqtt", "config": closed}, headers=auth
    )
    body = resp.json()
    assert body["ok"] is False and "refused" in body["reason"], body
    opcua = {
        "endpoint": f"opc.tcp://127.0.0.1:{free_port()}",
        "tags": [{"node_id": "ns=2;s=Force", "asset": "press", "channel": "force"}],
    }
    resp = client.post(
        "/api/connectors/test", json={"kind": "opcua", "config": opcua}, headers=auth
    )
    body = resp.json()
    assert body["ok"] is False and body["field"] == "config.endpoint", body
    assert "opc.tcp://127.0.0.1" in body["reason"], body
    if mosquitto_binary() is None:
        pytest.skip("mosquitto is not installed")
    broker = Mosquitto(tmp_path / "broker")
    broker.start()
    try:
        live = dict(MQTT, port=broker.port)
        resp = client.post(
            "/api/connectors/test", json={"kind": "mqtt", "config": live}, headers=auth
        )
        assert resp.json() == {**resp.json(), "ok": True, "field": None}
    finally:
        broker.stop()
