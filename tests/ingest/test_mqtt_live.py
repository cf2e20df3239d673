"""MQTT connector against a real Mosquitto on loopback."""

from __future__ import annotations

import json
import time

from dure.bench.mosquitto import Mosquitto
from dure.ingest.streams.payloads import encode_binary
from dure.settings import Settings
from dure.store.session import Store
from tests.ingest.live import Running, publisher, wait_for
from tests.ingest.stream_world import press_shop


def _config(port: int, client_id: str = "dure-line1") -> dict:  # type: ignore[type-arg]
    return {
        "host": "127.0.0.1",
        "port": port,
        "client_id": client_id,
        "topics": [
            {"filter": "plant/+/json", "asset_level": 1},
            {
                "filter": "plant/press7/bin",
                "asset": "press7",
                "format": "binary",
                "channels": ["force", "temp"],
            },
        ],
    }


def test_json_and_binary_messages_reach_the_store(
    store: Store, settings: Settings, mosquitto: Mosquitto
) -> None:
    shop = press_shop(store)
    connector = shop.connector("line1", "mqtt", _config(mosquitto.port))
    running = Running(store, settings, connector)
    try:
        wait_for(lambda: running.pipeline.source.describe()["connected"], 10, "the subscription")
        pub = publisher(mosquitto.port)
        t0 = time.time_ns() // 1000 - 60_000_000
        infos = [
            pub.publish(
                "plant/press7/json",
                json.dumps({"id": f"j{i}", "ts_us": t0 + i, "values": {"force": i * 1.5}}),
                qos=1,
            )
            for i in range(500)
        ]
        infos += [
            pub.publish(
                "plant/press7/bin", encode_binary(i, t0 + 1000 + i, [(0, -i), (1, 20.0)]), qos=1
            )
            for i in range(500)
        ]
        infos.append(pub.publish("plant/press7/bin", b"DU\x01\x00garbage", qos=1))
        for info in infos:
            info.wait_for_publish(10)
        wait_for(lambda: shop.stored_messages(connector.id) == 1000, 30, "1000 stored messages")
        force = shop.readings("force")
        assert len(force) == 1000
        assert force[:2] == [(t0, 0.0), (t0 + 1, 1.5)]
        assert force[500:502] == [(t0 + 1000, 0.0), (t0 + 1001, -1.0)]
        assert len(shop.readings("temp")) == 500
        wait_for(lambda: shop.rejects(connector.id), 10, "the refused binary payload")
        assert "shorter than its header" in shop.rejects(connector.id)[0]["reason"]
        pub.disconnect()
    finally:
        running.stop()
    stats = running.pipeline.stats.as_dict()
    assert stats["lag_ms"]["n"] >= 1500


def test_messages_sent_while_dure_is_away_arrive_when_it_is_back(
    store: Store, settings: Settings, mosquitto: Mosquitto
) -> None:
    shop = press_shop(store)
    connector = shop.connector("line1", "mqtt", _config(mosquitto.port))
    first = Running(store, settings, connector)  # creates the persistent session
    wait_for(lambda: first.pipeline.source.describe()["connected"], 10, "the subscription")
    first.stop()
    pub = publisher(mosquitto.port)
    t0 = time.time_ns() // 1000 - 60_000_000
    for i in range(3000):  # more than Mosquitto's default queue of 1,000
        pub.publish(
            "plant/press7/json",
            json.dumps({"id": i, "ts_us": t0 + i, "values": {"force": i}}),
            qos=1,
        ).wait_for_publish(10)
    pub.disconnect()
    second = Running(store, settings, connector)
    try:
        wait_for(lambda: shop.stored_messages(connector.id) == 3000, 30, "the queued messages")
    finally:
        second.stop()
    assert [v for _, v in shop.readings("force")] == [float(i) for i in range(3000)]
