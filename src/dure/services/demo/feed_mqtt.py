"""The demo feed's way through MQTT, as a factory would feed Dure: a broker, one MQTT
connector per supplier press subscribed to that press's topic, and a publisher.

The broker is the one at ``DURE_DEMO_MQTT`` (host:port) when it answers, else a Mosquitto
started on a free loopback port when one is installed (its queue kept under
``<home>/demo-broker``), else none: the feed then writes directly (``open_link`` says
which, in one log line). The connectors are ordinary ones, run by ``dure up``'s connector
supervisor and shown on the Connectors page with their live status and refusals; each
message is one JSON object per press and moment::

    {"id": "mirae-1796090400000000", "ts_us": 1796090400000000,
     "values": {"vibration_rms": 2.31, "motor_current": 38.4, "oil_temp": 45.9}}
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as mqtt

from dure.domain.connectors import Connector
from dure.domain.pages import Page
from dure.domain.users import Caller, Role
from dure.errors import NotFound
from dure.services.live.connectors import change_connector, save_connector
from dure.services.live.mosquitto import Mosquitto, mosquitto_binary
from dure.settings import Settings
from dure.store.session import Store

log = logging.getLogger(__name__)
CONNECTOR = "demo-press-feed"
ASSET = "press-800t"


def topic_of(slug: str) -> str:
    """The MQTT topic one supplier's demo press publishes on."""
    return f"dure-demo/{slug}/{ASSET}"


@dataclass(frozen=True)
class PressOrg:
    """A supplier whose demo press publishes: its organisation's id and short name."""

    org_id: str
    slug: str


def broker_answers(host: str, port: int, timeout_s: float = 1.0) -> bool:
    """Whether something accepts TCP connections at ``host:port``."""
    try:
        socket.create_connection((host, port), timeout=timeout_s).close()
    except OSError:
        return False
    return True


class MqttLink:
    """Publishes the presses' readings to a broker, where each supplier's demo connector
    (saved by ``connect``) picks them up; ``close`` stops the broker when it started it."""

    def __init__(self, store: Store, host: str, port: int, broker: Mosquitto | None = None):
        self.store, self.host, self.port, self.broker = store, host, port, broker
        self.connectors: dict[str, Connector] = {}
        self._client: mqtt.Client | None = None

    @property
    def address(self) -> str:
        """The broker's host:port."""
        return f"{self.host}:{self.port}"

    def connect(self, presses: Sequence[PressOrg]) -> None:
        """Save (or re-point and enable) each supplier's demo connector, then connect the
        publisher."""
        for press in presses:
            config = {
                "host": self.host,
                "port": self.port,
                "client_id": f"dure-demo-{press.slug}-{press.org_id[:8]}",
                "topics": [{"filter": topic_of(press.slug), "asset": ASSET}],
                "policy": {"create_channels": False},
            }
            with self.store.session(_admin(press.org_id)) as s:
                self.connectors[press.org_id] = save_connector(s, CONNECTOR, "mqtt", config)
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="")
        client.max_inflight_messages_set(1000)
        client.reconnect_delay_set(min_delay=1, max_delay=5)
        client.connect(self.host, self.port)
        client.loop_start()
        self._client = client

    def send(self, press: PressOrg, ts_us: int, values: dict[str, float]) -> None:
        """Publish one moment's readings of one press (QoS 1; paho resends after a drop)."""
        if self._client is None:
            raise RuntimeError("connect the link before sending")
        body = {"id": f"{press.slug}-{ts_us}", "ts_us": ts_us, "values": values}
        self._client.publish(topic_of(press.slug), json.dumps(body), qos=1)

    def close(self) -> None:
        """Disconnect the publisher; stop the broker if this link started it, and switch
        its connectors off (they would point at a port nobody listens on)."""
        if self._client is not None:
            self._client.disconnect()
            self._client.loop_stop()
            self._client = None
        if self.broker is not None:
            broker, self.broker = self.broker, None
            try:
                broker.stop()
            except (OSError, RuntimeError, subprocess.TimeoutExpired) as exc:
                log.warning("demo feed: mosquitto did not stop cleanly (%s)", exc)
                if broker.process is not None:
                    broker.process.kill()
            park_connectors(self.store, self.connectors)


def open_link(
    store: Store, settings: Settings, find_mosquitto: Callable[[], str | None] = mosquitto_binary
) -> MqttLink | None:
    """The demo's broker: the configured one when it answers, else a Mosquitto started on
    loopback when ``find_mosquitto`` finds one installed, else None (the feed writes
    directly)."""
    if settings.demo_mqtt:
        host, _, port = settings.demo_mqtt.rpartition(":")
        if broker_answers(host, int(port)):
            return MqttLink(store, host, int(port))
        log.warning("demo feed: no MQTT broker answers at %s (DURE_DEMO_MQTT)", settings.demo_mqtt)
    if find_mosquitto() is None:
        return None
    broker: Mosquitto | None = None
    try:
        broker = Mosquitto(Path(settings.home) / "demo-broker")
        broker.start(die_with_parent=True)
    except (OSError, RuntimeError) as exc:
        log.warning("demo feed: could not start mosquitto (%s)", exc)
        if broker is not None:
            with contextlib.suppress(OSError, RuntimeError, subprocess.TimeoutExpired):
                broker.stop()
        return None
    return MqttLink(store, "127.0.0.1", broker.port, broker)


def park_connectors(store: Store, connectors: dict[str, Connector] | None = None) -> int:
    """Switch off the demo connectors (those given, or every organisation's): used when
    the feed writes directly or its broker stopped. Returns how many were on."""
    if connectors is None:
        with store.system(read_only=True) as system:
            org_ids = [o.id for o in system.organisations.list()]
        connectors = {}
        for org_id in org_ids:
            with store.session(_admin(org_id), read_only=True) as s:
                found = s.connectors.list(Page(limit=1), name=CONNECTOR, org_id=org_id).items
            if found:
                connectors[org_id] = found[0]
    parked = 0
    for org_id, connector in connectors.items():
        with store.session(_admin(org_id)) as s:
            try:
                if s.connectors.get(connector.id).enabled:
                    change_connector(s, connector.id, None, enabled=False)
                    parked += 1
            except NotFound:
                continue
    return parked


def _admin(org_id: str) -> Caller:
    return Caller(org_id=org_id, user_id=None, role=Role.ADMIN)
