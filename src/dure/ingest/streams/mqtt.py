"""MQTT source: a persistent QoS 1 session whose messages are acknowledged only when durable.

paho-mqtt's ``manual_ack`` holds each PUBACK until the pipeline says the message is in the
store or the spool (aiomqtt, the asyncio wrapper around paho, does not expose it yet:
empicano/aiomqtt#345). The session survives restarts (clean start off, long expiry), so
the broker keeps and redelivers whatever was not acknowledged.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from dure.domain.connectors import StreamMessage, StreamRejection
from dure.ingest.streams.config import MqttConfig
from dure.ingest.streams.payloads import PayloadError, RuleBook, decode
from dure.ingest.streams.pipeline import Arrivals, Incoming

log = logging.getLogger("dure.ingest.mqtt")

SESSION_EXPIRY_S = 7 * 24 * 3600  # the broker keeps our queue a week while we are away


class MqttSource:
    """Subscribes to the configured topics; items are taken in arrival order."""

    def __init__(self, config: MqttConfig) -> None:
        self.config = config
        self.arrivals = Arrivals()
        self._generation = 0
        self._connected = False
        self._last_error = ""
        client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=config.client_id,
            protocol=mqtt.MQTTv5,
            manual_ack=True,
        )
        if config.username:
            client.username_pw_set(config.username, config.password)
        if config.tls:
            client.tls_set()
        client.reconnect_delay_set(min_delay=1, max_delay=5)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        self.client = client

    def start(self) -> None:
        """Connect in the background (retrying while the broker is down)."""
        props = Properties(PacketTypes.CONNECT)
        props.ReceiveMaximum = self.config.receive_maximum
        props.SessionExpiryInterval = SESSION_EXPIRY_S
        self.client.connect_async(
            self.config.host,
            self.config.port,
            keepalive=self.config.keepalive_s,
            clean_start=False,
            properties=props,
        )
        self.client.loop_start()

    def stop(self) -> None:
        """Disconnect; unacknowledged messages stay with the broker."""
        self.client.disconnect()
        self.client.loop_stop()

    def take(self, max_items: int, window_s: float, stop: threading.Event) -> list[Incoming]:
        """The next batch of items, in arrival order."""
        return self.arrivals.take(max_items, window_s, stop)

    def ack(self, tokens: Sequence[Any]) -> None:
        """Acknowledge stored messages; those from an earlier connection are redelivered
        by the broker anyway (and de-duplicated), so their acknowledgements are dropped."""
        current = self._generation
        for generation, mid in tokens:
            if generation == current:
                self.client.ack(mid, 1)

    def describe(self) -> dict[str, Any]:
        """Connection state for the connector's status."""
        return {
            "kind": "mqtt",
            "broker": f"{self.config.host}:{self.config.port}",
            "connected": self._connected,
            "queued": len(self.arrivals),
            "last_error": self._last_error,
        }

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:  # type: ignore[no-untyped-def]
        if reason_code.is_failure:
            self._last_error = f"broker refused the connection: {reason_code}"
            log.warning(self._last_error)
            return
        self._generation += 1
        self._connected = True
        self._last_error = ""
        client.subscribe([(rule.filter, 1) for rule in self.config.topics])
        log.info("connected to %s:%s", self.config.host, self.config.port)

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:  # type: ignore[no-untyped-def]
        self._connected = False
        if reason_code != 0:
            self._last_error = f"disconnected: {reason_code}"
            log.warning("%s; reconnecting", self._last_error)

    def _on_message(self, client, userdata, msg) -> None:  # type: ignore[no-untyped-def]
        self.arrivals.push(
            Incoming(
                (self._generation, msg.mid) if msg.qos else None,
                msg.topic,
                msg.payload,
                time.time_ns() // 1000,
            )
        )


def mqtt_decoder(config: MqttConfig):  # type: ignore[no-untyped-def]
    """A decoder for the pipeline: topic rule lookup, then JSON or binary decoding."""
    book = RuleBook(config.topics)

    def decode_item(item: Incoming) -> tuple[StreamMessage | None, list[StreamRejection]]:
        assert isinstance(item.payload, bytes)
        rule = book.rule_for(item.topic)
        if rule is None:
            raise PayloadError(f"no topic rule matches {item.topic!r}")
        return decode(item.topic, item.payload, rule, item.received_us), []

    return decode_item
