"""Alerts from SPC rules on a sensor channel: raised once per problem, counted on repeats,
sent to a real webhook on loopback, acknowledged and closed over HTTP."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer

import numpy as np
import pytest

from dure.collab.outbound import OutboundPolicy
from dure.domain.alerts import AlertStatus
from dure.domain.plant import Asset, SensorChannel
from dure.errors import InvalidInput, StateConflict
from dure.services.alerts.raising import add_target
from dure.services.maintenance.anomaly_checks import check_asset_anomalies
from dure.services.maintenance.spc_checks import check_channel_spc
from dure.services.platform.accounts import create_org, system_caller
from dure.store.repositories.sensor_readings import ReadingColumns
from dure.store.session import Store

T0 = 1_795_000_000_000_000

LOCAL = OutboundPolicy(allow_private=True)  # the test receivers run on loopback


class Hook:
    """A webhook receiver on loopback that keeps what it was sent."""

    def __init__(self) -> None:
        received = self.received = []  # type: ignore[var-annotated]

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/dure-alerts"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def hook() -> Iterator[Hook]:
    receiver = Hook()
    yield receiver
    receiver.server.shutdown()


def _press_with_readings(store: Store, values: np.ndarray):  # type: ignore[no-untyped-def]
    with store.system() as s:
        org = create_org(s, "Alert Shop", "supplier", "alert-shop")
    caller = system_caller(org)
    with store.session(caller) as s:
        asset = s.assets.add(Asset(org_id=org.id, name="press7"))
        channel = s.channels.add(SensorChannel(org_id=org.id, asset_id=asset.id, name="force"))
        s.readings.insert(
            ReadingColumns(
                [channel.id],
                np.zeros(len(values), np.int32),
                T0 + np.arange(len(values), dtype=np.int64) * 1_000_000,
                values,
            )
        )
    return caller, channel


def test_a_shift_raises_alerts_once_sends_them_and_counts_repeats(store: Store, hook: Hook) -> None:
    rng = np.random.default_rng(0)
    values = np.concatenate([rng.normal(800, 2, 150), rng.normal(812, 2, 50)])  # a 6-sigma shift
    caller, channel = _press_with_readings(store, values)
    with store.session(caller) as s:
        add_target(s, "webhook", hook.url, LOCAL)
    first = check_channel_spc(store, caller, channel.id, baseline=100, recent=100, outbound=LOCAL)
    assert "WE1 one point beyond 3 sigma" in first.violations
    assert "WE4 eight in a row on one side" in first.violations
    assert len(first.new_alerts) == len(first.violations)
    assert {m["rule"] for m in hook.received} == set(first.violations)
    assert any(
        m["message"].startswith("force: WE1 one point beyond 3 sigma") for m in hook.received
    )
    again = check_channel_spc(store, caller, channel.id, baseline=100, recent=100, outbound=LOCAL)
    assert again.new_alerts == [] and len(hook.received) == len(first.violations)
    with store.session(caller) as s:
        alerts = s.alerts.list().items
        assert {a.count for a in alerts} == {2}
        assert all(
            a.delivery and next(iter(a.delivery.values())).startswith("sent") for a in alerts
        )


def test_closing_an_alert_lets_the_problem_raise_a_new_one(store: Store) -> None:
    rng = np.random.default_rng(1)
    values = np.concatenate([rng.normal(50, 1, 120), [80.0], rng.normal(50, 1, 20)])
    caller, channel = _press_with_readings(store, values)
    first = check_channel_spc(store, caller, channel.id)
    we1 = next(a for a in first.alerts if a.rule.startswith("WE1"))
    assert we1.severity == "critical"
    with store.session(caller) as s:
        s.alerts.set_status(we1.id, AlertStatus.CLOSED)
    again = check_channel_spc(store, caller, channel.id)
    assert any(a.rule.startswith("WE1") for a in again.new_alerts)


def test_bad_targets_and_short_channels_are_refused(store: Store) -> None:
    caller, channel = _press_with_readings(store, np.arange(10.0))
    with store.session(caller) as s:
        with pytest.raises(InvalidInput, match="mqtt://host:port/topic"):
            add_target(s, "mqtt", "broker.local:1883", LOCAL)
        with pytest.raises(InvalidInput, match="http:// or https://"):
            add_target(s, "webhook", "ftp://x/y", LOCAL)
    with pytest.raises(StateConflict, match="has 10 readings; SPC needs 20"):
        check_channel_spc(store, caller, channel.id)


def test_alerts_over_http(client, store: Store, world) -> None:  # type: ignore[no-untyped-def]
    auth = world.a.auth("operator")
    listed = client.get("/api/alerts", params={"status": "open"}, headers=auth).json()["items"]
    assert [a["rule"] for a in listed] == ["WE1 one point beyond 3 sigma"]
    done = client.post(f"/api/alerts/{listed[0]['id']}/acknowledge", headers=auth)
    assert done.status_code == 200 and done.json()["status"] == "acknowledged"
    assert client.get("/api/alerts", params={"status": "open"}, headers=auth).json()["items"] == []
    resp = client.post(
        "/api/alert-targets",
        json={"kind": "mqtt", "address": "mqtt://127.0.0.1:1883/plant/alerts"},
        headers=world.a.auth("admin"),
    )
    assert resp.status_code == 422 and "private network" in resp.json()["detail"]
    resp = client.post(
        "/api/alert-targets",
        json={"kind": "mqtt", "address": "mqtt://1.1.1.1:1883/plant/alerts"},  # a public address
        headers=world.a.auth("admin"),
    )
    assert resp.status_code == 201, resp.text
    refused = client.post(
        "/api/alert-targets", json={"kind": "mqtt", "address": "mqtt://x/y"}, headers=auth
    )
    assert refused.status_code == 403


def test_machine_anomalies_raise_alerts_naming_the_channel(store: Store) -> None:
    from tests.models.test_sensor_anomaly import _press

    X = _press(2000, 0)  # the baseline must span the normal load cycle (~1,260 samples)
    X[-50:, 2] += 3.0  # vibration burst at the end
    with store.system() as s:
        org = create_org(s, "Anomaly Shop", "supplier", "anomaly-shop")
    caller = system_caller(org)
    with store.session(caller) as s:
        asset = s.assets.add(Asset(org_id=org.id, name="press9"))
        for k, name in enumerate(["current", "temp", "vibration"]):
            ch = s.channels.add(SensorChannel(org_id=org.id, asset_id=asset.id, name=name))
            s.readings.insert(
                ReadingColumns(
                    [ch.id],
                    np.zeros(len(X), np.int32),
                    T0 + np.arange(len(X), dtype=np.int64) * 1_000_000,
                    X[:, k],
                )
            )
    result = check_asset_anomalies(store, caller, asset.id, baseline=1500, recent=100)
    assert result.channels == ["current", "temp", "vibration"] or set(result.channels) == {
        "current",
        "temp",
        "vibration",
    }
    rules = {a.rule for a in result.new_alerts}
    assert "channel vibration out of range" in rules
    assert not any(r.startswith(("channel current", "channel temp")) for r in rules), rules
    assert 40 <= result.alarms <= 60
    again = check_asset_anomalies(store, caller, asset.id, baseline=1500, recent=100)
    assert again.new_alerts == []
