"""New alerts published to an MQTT topic of a real Mosquitto."""

from __future__ import annotations

import json

import numpy as np
import paho.mqtt.client as mqtt

from dure.bench.mosquitto import Mosquitto
from dure.collab.outbound import OutboundPolicy
from dure.services.alerts.raising import add_target
from dure.services.maintenance.spc_checks import check_channel_spc
from dure.store.session import Store
from tests.ingest.live import wait_for
from tests.services.test_alerts import _press_with_readings

LOCAL = OutboundPolicy(allow_private=True)  # the broker runs on loopback


def test_alerts_reach_an_mqtt_topic(store: Store, mosquitto: Mosquitto) -> None:
    got: list[dict] = []  # type: ignore[type-arg]
    sub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="alert-listener")
    sub.on_message = lambda c, u, m: got.append(json.loads(m.payload))
    sub.on_connect = lambda c, u, f, rc, p: c.subscribe("plant/alerts", qos=1)
    sub.connect("127.0.0.1", mosquitto.port)
    sub.loop_start()
    try:
        values = np.concatenate([np.random.default_rng(0).normal(5, 0.1, 120), [9.0]])
        caller, channel = _press_with_readings(store, values)
        with store.session(caller) as s:
            add_target(s, "mqtt", f"mqtt://127.0.0.1:{mosquitto.port}/plant/alerts", LOCAL)
        wait_for(lambda: sub.is_connected(), 10, "the listener")
        result = check_channel_spc(store, caller, channel.id, outbound=LOCAL)
        wait_for(lambda: len(got) == len(result.new_alerts), 10, "the alerts on MQTT")
    finally:
        sub.loop_stop()
    assert got[0]["subject_id"] == channel.id
    assert any(m["rule"].startswith("WE1") for m in got)
