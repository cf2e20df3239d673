"""Helpers of the live tests: run a connector on a thread, publish with paho, wait for data."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as mqtt

from dure.domain.connectors import Connector
from dure.ingest.streams.pipeline import StreamPipeline
from dure.services.live.runner import build_pipeline
from dure.settings import Settings
from dure.store.session import Store


class Running:
    """A connector's pipeline on a background thread."""

    def __init__(self, store: Store, settings: Settings, connector: Connector) -> None:
        self.pipeline: StreamPipeline = build_pipeline(store, settings, connector)
        self.thread = threading.Thread(target=self.pipeline.run, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.pipeline.stop()
        self.thread.join(timeout=20)


def publisher(port: int, client_id: str = "test-publisher") -> mqtt.Client:
    """A connected paho client (network loop on its own thread)."""
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id)
    client.max_inflight_messages_set(1000)
    client.connect("127.0.0.1", port)
    client.loop_start()
    return client


def wait_for(condition: Callable[[], Any], timeout_s: float, what: str) -> Any:
    """Poll ``condition`` until it is truthy; fail naming ``what`` after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")
