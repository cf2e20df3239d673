"""What the stream fault tests share: a steady QoS-1 publisher, the ingest process, and
the count of what the publisher was told is safe against what the store holds."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt

from tests.ingest.stream_world import PressShop

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

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def acknowledged(self) -> set[int]:
        return {i for i, info in self.sent if is_acked(info)}


def is_acked(info: mqtt.MQTTMessageInfo) -> bool:
    """True when the broker acknowledged the message to the publisher."""
    try:
        return info.is_published()
    except (ValueError, RuntimeError):  # never queued: not acknowledged
        return False


def start_ingest(home: Path, database_url: str | None, slug: str) -> subprocess.Popen[bytes]:
    """`dure connect run line1` as its own process, logging to ``home/ingest.log``."""
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


def fault_summary(
    shop: PressShop, connector_id: str, pub: SteadyPublisher, acknowledged: set[int]
) -> dict[str, Any]:
    """Published, acknowledged and stored counts, and checksums of stored and expected."""
    force, temp = shop.readings("force"), shop.readings("temp")
    stored_ids = {(ts - pub.t0_us) // 1000 for ts, _ in force}
    expected = [
        (pub.t0_us + i * 1000, SteadyPublisher.values(i)[k])
        for k in (0, 1)
        for i in sorted(stored_ids)
    ]
    return {
        "published": len(pub.sent),
        "acknowledged_to_publisher": len(acknowledged),
        "stored_messages": shop.stored_messages(connector_id),
        "distinct_messages_with_readings": len(stored_ids),
        "stored_readings": {"force": len(force), "temp": len(temp)},
        "acknowledged_but_missing": len(acknowledged - stored_ids),
        "checksum_stored": _checksum(force + temp),
        "checksum_expected": _checksum(expected),
    }


def assert_each_acknowledged_message_stored_once(summary: dict[str, Any]) -> None:
    """Nothing the publisher was told is safe is missing; nothing is stored twice."""
    distinct = summary["distinct_messages_with_readings"]
    assert summary["acknowledged_but_missing"] == 0
    assert summary["stored_messages"] == distinct  # one message id row per message
    assert summary["stored_readings"] == {"force": distinct, "temp": distinct}  # each once
    assert summary["checksum_stored"] == summary["checksum_expected"]
