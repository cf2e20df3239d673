"""Fault test of live ingestion (the acceptance test of the ingestion issue).

A publisher sends a steady stream at QoS 1 to a real Mosquitto; the ingest process
(`dure connect run`) is killed with SIGKILL 20 times mid-stream and restarted, then the
broker is stopped for 60 s and started again. Every message the publisher got an
acknowledgement for must be stored exactly once: the counts and a checksum of the
readings are printed and compared.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from dure.bench.mosquitto import Mosquitto
from dure.settings import Settings
from dure.store.session import Store
from tests.ingest.conftest import need_mosquitto
from tests.ingest.live import wait_for
from tests.ingest.stream_world import press_shop

KILLS = int(os.environ.get("DURE_FAULT_KILLS", "20"))
OUTAGE_S = float(os.environ.get("DURE_FAULT_OUTAGE_S", "60"))
RATE = 1500  # messages per second


class SteadyPublisher:
    """Publishes numbered messages at a steady rate until stopped; survives broker outages."""

    def __init__(self, port: int, t0_us: int) -> None:
        self.t0_us = t0_us
        self.sent: list[tuple[int, mqtt.MQTTMessageInfo]] = []
        self._stop = threading.Event()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="fault-publisher")
        self.client.max_inflight_messages_set(5000)
        self.client.max_queued_messages_set(0)
        self.client.reconnect_delay_set(1, 2)
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        self.thread = threading.Thread(target=self._run, daemon=True)

    @staticmethod
    def values(i: int) -> tuple[float, float]:
        return (i * 0.5, 20.0 + (i % 97) / 8)

    def _run(self) -> None:
        # A steady pace that does not catch up after an outage (a sensor samples on).
        i, due = 0, time.monotonic()
        while not self._stop.is_set():
            if not self.client.is_connected():  # a line-side sender holds back meanwhile
                time.sleep(0.05)
                due = time.monotonic()
                continue
            now = time.monotonic()
            if now < due:
                time.sleep(min(due - now, 0.002))
                continue
            force, temp = self.values(i)
            values = {"force": force, "temp": temp}
            body = {"id": f"m{i}", "ts_us": self.t0_us + i * 1000, "values": values}
            self.sent.append((i, self.client.publish("plant/press7/data", json.dumps(body), qos=1)))
            i += 1
            due += 1 / RATE

    def stop(self) -> None:
        self._stop.set()
        self.thread.join()

    def acknowledged(self) -> set[int]:
        return {i for i, info in self.sent if _acked(info)}


def _acked(info: mqtt.MQTTMessageInfo) -> bool:
    try:
        return info.is_published()
    except (ValueError, RuntimeError):  # never queued: not acknowledged
        return False


def _start_ingest(home: Path, database_url: str | None, slug: str) -> subprocess.Popen[bytes]:
    env = dict(os.environ, DURE_HOME=str(home))
    if database_url:
        env["DURE_DATABASE_URL"] = database_url
    command = [sys.executable, "-m", "dure.cli", "connect", "run", "line1", "--org", slug]
    log = open(home / "ingest.log", "ab")  # noqa: SIM115 - lives with the process
    return subprocess.Popen(command, env=env, stdout=log, stderr=log)


def _checksum(rows: list[tuple[int, float]]) -> str:
    digest = hashlib.sha256()
    for ts, value in sorted(rows):
        digest.update(f"{ts}:{value!r};".encode())
    return digest.hexdigest()[:16]


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
    ingest = _start_ingest(settings.home, settings.database_url, "fault-shop")
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
            ingest = _start_ingest(settings.home, settings.database_url, "fault-shop")
        time.sleep(2)
        broker.stop()
        time.sleep(OUTAGE_S)
        broker.start()
        time.sleep(5)
        pub.stop()
        wait_for(lambda: all(_acked(info) for _, info in pub.sent[-100:]), 60, "the last acks")
        acked = pub.acknowledged()
        wait_for(
            lambda: shop.stored_messages(connector.id) >= len(acked), 120, f"{len(acked)} messages"
        )
        time.sleep(1)  # anything still arriving would show up as an excess below
    finally:
        pub.client.disconnect()
        pub.client.loop_stop()
        ingest.send_signal(signal.SIGTERM)
        ingest.wait(timeout=30)
        broker.stop()

    force, temp = shop.readings("force"), shop.readings("temp")
    stored_ids = {(ts - t0_us) // 1000 for ts, _ in force}
    expected_force = [(t0_us + i * 1000, SteadyPublisher.values(i)[0]) for i in sorted(stored_ids)]
    expected_temp = [(t0_us + i * 1000, SteadyPublisher.values(i)[1]) for i in sorted(stored_ids)]
    summary = {
        "published": len(pub.sent),
        "acknowledged_to_publisher": len(acked),
        "stored_messages": shop.stored_messages(connector.id),
        "stored_readings": len(force) + len(temp),
        "acknowledged_but_missing": len(acked - stored_ids),
        "checksum_stored": _checksum(force + temp),
        "checksum_expected": _checksum(expected_force + expected_temp),
        "kills": KILLS,
        "broker_outage_s": OUTAGE_S,
    }
    with capsys.disabled():
        print("\nstream fault test:", json.dumps(summary))
    assert summary["acknowledged_but_missing"] == 0
    assert summary["stored_messages"] == len(stored_ids)  # one message id row per message
    assert len(force) == len(temp) == len(stored_ids)  # each reading once
    assert summary["checksum_stored"] == summary["checksum_expected"]
    assert len(acked) > KILLS * RATE * 0.5  # the stream really flowed
