"""`dure up`'s connector supervisor: API-configured connectors run as processes, are
restarted when they die, and stop when switched off."""

from __future__ import annotations

import json
import time

from dure.bench.mosquitto import Mosquitto
from dure.services.live.connectors import change_connector
from dure.services.live.supervisor import ConnectorSupervisor
from dure.services.platform.accounts import system_caller
from dure.settings import Settings
from dure.store.session import Store
from tests.ingest.live import publisher, wait_for
from tests.ingest.stream_world import press_shop


def _publish(port: int, start: int, count: int) -> None:
    pub = publisher(port, client_id=f"sup-pub-{start}")
    t0 = time.time_ns() // 1000 - 60_000_000
    for i in range(start, start + count):
        body = json.dumps({"id": i, "ts_us": t0 + i, "values": {"force": float(i)}})
        pub.publish("plant/press7/data", body, qos=1).wait_for_publish(10)
    pub.disconnect()


def test_supervised_connector_runs_restarts_and_stops(
    store: Store, settings: Settings, mosquitto: Mosquitto
) -> None:
    shop = press_shop(store)
    config = {
        "host": "127.0.0.1",
        "port": mosquitto.port,
        "client_id": "dure-supervised",
        "topics": [{"filter": "plant/+/data", "asset_level": 1}],
    }
    connector = shop.connector("line1", "mqtt", config)
    supervisor = ConnectorSupervisor(store, settings, poll_s=0.3)
    supervisor.start()
    try:
        wait_for(lambda: shop.status(connector.id).get("source", {}).get("connected"), 30, "start")
        _publish(mosquitto.port, 0, 100)
        wait_for(lambda: shop.stored_messages(connector.id) == 100, 30, "100 stored")
        first = supervisor.running[connector.id].process
        first.kill()
        wait_for(
            lambda: (
                connector.id in supervisor.running
                and supervisor.running[connector.id].process.pid != first.pid
            ),
            30,
            "a restart",
        )
        _publish(mosquitto.port, 100, 100)  # queued by the broker while it restarts
        wait_for(lambda: shop.stored_messages(connector.id) == 200, 30, "200 stored")
        with store.session(system_caller(shop.org)) as s:
            change_connector(s, connector.id, None, enabled=False)
        wait_for(lambda: connector.id not in supervisor.running, 30, "the stop")
    finally:
        supervisor.stop()
    assert len(shop.readings("force")) == 200
