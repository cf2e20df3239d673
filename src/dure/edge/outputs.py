"""Where verdicts go on the line: an MQTT topic (JSON, QoS 1) and a PLC's OPC UA reject gate.

Neither may hold up the image loop: paho publishes from its own network thread (queueing
while the broker is away), and the OPC UA writer runs its own asyncio loop on its own thread,
reconnecting with backoff; the loop only hands it the latest verdicts through a queue.
"""

from __future__ import annotations

import asyncio
import json
import logging
import queue
import threading
from typing import Any

import paho.mqtt.client as mqtt

log = logging.getLogger("dure.edge.outputs")


class MqttVerdicts:
    """Publishes each verdict to ``topic`` at QoS 1."""

    def __init__(
        self, host: str, port: int, topic: str, client_id: str, confirm_s: float = 1.0
    ) -> None:
        self.host, self.port, self.topic = host, port, topic
        self.confirm_s = confirm_s
        client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5
        )
        client.reconnect_delay_set(min_delay=1, max_delay=5)
        client.max_queued_messages_set(0)  # keep every verdict while the broker is away
        self.client = client

    def start(self) -> None:
        """Connect in the background."""
        self.client.connect_async(self.host, self.port, keepalive=30)
        self.client.loop_start()

    def stop(self) -> None:
        """Send what is queued (briefly), then disconnect."""
        self.client.disconnect()
        self.client.loop_stop()

    def send(self, verdict: dict[str, Any]) -> None:
        """Publish one verdict. While the broker is connected, wait (up to ``confirm_s``)
        for its acknowledgement, so the result is committed only after the line has the
        verdict (at least once across a crash); while it is away, queue without waiting."""
        info = self.client.publish(self.topic, json.dumps(verdict, separators=(",", ":")), qos=1)
        if not self.client.is_connected():
            return
        try:
            info.wait_for_publish(timeout=self.confirm_s)
        except (RuntimeError, ValueError):  # lost the connection meanwhile: it stays queued
            pass


class OpcuaGate:
    """Writes each verdict to a PLC: a Boolean reject node (true = defect) and optionally a
    Double score node. Runs an asyncua Client on its own thread; while the PLC is away
    verdicts queue (up to ``max_queued``; the oldest are dropped beyond that, logged)."""

    def __init__(
        self,
        endpoint: str,
        reject_node: str,
        score_node: str | None = None,
        max_queued: int = 10_000,
        timeout_s: float = 2.0,
    ) -> None:
        self.endpoint, self.reject_node, self.score_node = endpoint, reject_node, score_node
        self.timeout_s = timeout_s
        self._queue: queue.Queue[tuple[bool, float | None]] = queue.Queue(maxsize=max_queued)
        self._stop = threading.Event()
        self.connected = False
        self.written = 0
        self.dropped = 0
        self.last_error = ""
        self._thread = threading.Thread(target=self._run, name="edge-opcua", daemon=True)

    def start(self) -> None:
        """Start the writer thread."""
        self._thread.start()

    def stop(self) -> None:
        """Stop the writer thread (what is still queued is dropped)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    def send(self, verdict: dict[str, Any]) -> None:
        """Queue one verdict for the PLC (never blocks). Anything but ``ok`` rejects the
        part (``error``: the box could not judge it); without a score the score node is
        left as it is."""
        score = verdict.get("score")
        item = (verdict["verdict"] != "ok", None if score is None else float(score))
        while True:
            try:
                self._queue.put_nowait(item)
                return
            except queue.Full:
                try:
                    self._queue.get_nowait()
                    self.dropped += 1
                except queue.Empty:
                    pass

    def _run(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        from asyncua import Client, ua

        delay = 1.0
        current: tuple[bool, float | None] | None = None
        while not self._stop.is_set():
            client = Client(self.endpoint, timeout=self.timeout_s)
            try:
                await client.connect()
                reject = client.get_node(self.reject_node)
                score = client.get_node(self.score_node) if self.score_node else None
                self.connected, delay = True, 1.0
                log.info("PLC gate connected: %s", self.endpoint)
                while not self._stop.is_set():
                    if current is None:
                        try:
                            current = self._queue.get_nowait()
                        except queue.Empty:
                            await asyncio.sleep(0.005)
                            continue
                    is_ng, value = current  # kept until written: a lost PLC gets it again
                    if score is not None and value is not None:
                        await score.write_value(
                            ua.DataValue(ua.Variant(value, ua.VariantType.Double))
                        )
                    await reject.write_value(
                        ua.DataValue(ua.Variant(is_ng, ua.VariantType.Boolean))
                    )
                    self.written += 1
                    current = None
            except Exception as exc:  # noqa: BLE001 - any failure: log, back off, reconnect
                self.last_error = f"{type(exc).__name__}: {exc}"
                if self.connected:
                    log.warning("PLC gate lost (%s); reconnecting", self.last_error)
            finally:
                self.connected = False
                try:
                    await asyncio.wait_for(client.disconnect(), self.timeout_s)
                except Exception:  # noqa: BLE001 - already gone
                    pass
            if not self._stop.is_set():
                self._stop.wait(delay)
                delay = min(delay * 2, 30.0)
