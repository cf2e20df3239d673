"""Fault test of live ingestion (the acceptance test of the ingestion issue).

A publisher sends a steady stream at QoS 1 to a real Mosquitto; the ingest process
(`dure connect run`) is killed with SIGKILL 20 times mid-stream and restarted, then the
broker is stopped for 60 s and started again. Every message the publisher got an
acknowledgement for must be stored exactly once: the counts and a checksum of the
readings are printed and compared.
"""

from __future__ import annotations

import json
import os
import random
import signal
import time
from pathlib import Path

import pytest

from dure.bench.mosquitto import Mosquitto
from dure.settings import Settings
from dure.store.session import Store
from tests.ingest.conftest import need_mosquitto
from tests.ingest.live import wait_for
from tests.ingest.steady_stream import (
    RATE,
    SteadyPublisher,
    assert_each_acknowledged_message_stored_once,
    fault_summary,
    is_acked,
    start_ingest,
)
from tests.ingest.stream_world import press_shop

KILLS = int(os.environ.get("DURE_FAULT_KILLS", "20"))
OUTAGE_S = float(os.environ.get("DURE_FAULT_OUTAGE_S", "60"))


@pytest.mark.slow
def test_kill_9_twenty_times_and_a_broker_outage_lose_and_double_nothing(
    store: Store, settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    need_mosquitto()
    broker = Mosquitto(tmp_path / "broker")
    broker.start()
    shop = press_shop(store, "fault-shop")
    config = {
        "host": "127.0.0.1", "port": broker.port, "client_id": "dure-fault",
        "topics": [{"filter": "plant/+/data", "asset_level": 1}],
    }  # fmt: skip
    connector = shop.connector("line1", "mqtt", config)
    ingest = start_ingest(settings.home, settings.database_url, "fault-shop")
    # MQTT queues only for a session that exists: publish once Dure has subscribed.
    wait_for(lambda: shop.status(connector.id).get("source", {}).get("connected"), 30, "subscribed")
    t0_us = time.time_ns() // 1000 - 3_600_000_000
    pub = SteadyPublisher(broker.port, t0_us)
    pub.thread.start()
    rng = random.Random(4)
    try:
        for _ in range(KILLS):
            time.sleep(rng.uniform(0.6, 1.4))
            assert ingest.poll() is None, (settings.home / "ingest.log").read_text()[-2000:]
            ingest.send_signal(signal.SIGKILL)
            ingest.wait()
            ingest = start_ingest(settings.home, settings.database_url, "fault-shop")
        time.sleep(2)
        broker.stop()
        time.sleep(OUTAGE_S)
        broker.start()
        time.sleep(5)
        pub.stop()
        wait_for(lambda: all(is_acked(info) for _, info in pub.sent[-100:]), 60, "the last acks")
        acked = pub.acknowledged()
        wait_for(
            lambda: shop.stored_messages(connector.id) >= len(acked), 120, f"{len(acked)} messages"
        )
        time.sleep(1)  # anything still arriving would show up as an excess below
    finally:
        pub.close()
        ingest.send_signal(signal.SIGTERM)
        ingest.wait(timeout=30)
        broker.stop()

    summary = fault_summary(shop, connector.id, pub, acked)
    summary.update(kills=KILLS, broker_outage_s=OUTAGE_S)
    with capsys.disabled():
        print("\nstream fault test:", json.dumps(summary))
    assert_each_acknowledged_message_stored_once(summary)
    assert len(acked) > KILLS * RATE * 0.5  # the stream really flowed
