"""The demo feed through a real Mosquitto on loopback: each press publishes, its
supplier's demo connector stores what was published (count, channels, values), reports
itself connected, and the live checks raise Mirae's wearing press from those readings.
Without a broker the feed writes directly, says so, and switches the demo connectors off."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from pydantic import ValidationError

from dure.domain.alerts import AlertKind
from dure.domain.users import Caller, Role
from dure.ports import free_port
from dure.services.demo.feed_mqtt import CONNECTOR, MqttLink, open_link
from dure.services.demo.live_feed import CHANNEL_NAMES, DemoFeed, start_demo_feed
from dure.services.demo.world import build_demo
from dure.services.live.connectors import save_connector
from dure.services.live.mosquitto import Mosquitto
from dure.services.live.supervisor import ConnectorSupervisor
from dure.services.monitoring.runner import CheckRounds
from dure.settings import Settings
from dure.store.session import Store
from tests.ingest.conftest import need_mosquitto
from tests.ingest.live import Running, wait_for

END = datetime(2026, 11, 30, 6, tzinfo=UTC)


def _world(store: Store, settings: Settings) -> None:
    build_demo(store, settings.home, seed=3, end=END, history_days=0, images_per_supplier=4)


def _admin(org_id: str) -> Caller:
    return Caller(org_id=org_id, user_id=None, role=Role.ADMIN)


def _connector_state(store: Store, link: MqttLink, org_id: str) -> tuple[bool, dict[str, Any]]:
    with store.session(_admin(org_id), read_only=True) as s:
        connector = s.connectors.get(link.connectors[org_id].id)
    return connector.enabled, connector.status


def _stored_messages(store: Store, link: MqttLink, org_id: str) -> int:
    with store.session(_admin(org_id), read_only=True) as s:
        return s.connectors.count_stored(link.connectors[org_id].id)


def _live_readings(store: Store, feed: DemoFeed, slug: str) -> dict[str, list[tuple[int, float]]]:
    """The press's readings after the history's end, per channel name."""
    press = next(p for p in feed.presses if p.slug == slug)
    after = int(END.timestamp() * 1e6) + 1
    with store.session(_admin(press.org_id), read_only=True) as s:
        return {
            name: [(r.ts_us, r.value) for r in s.readings.read(cid, after, None, 10_000)]
            for name, cid in zip(CHANNEL_NAMES, press.channel_ids, strict=True)
        }


class Listener:
    """A plain MQTT subscriber to every demo topic: what the feed really published."""

    def __init__(self, port: int) -> None:
        self.messages: list[tuple[str, dict[str, Any]]] = []
        self.subscribed = threading.Event()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="demo-listener")
        self.client.on_connect = lambda c, *_: c.subscribe("dure-demo/#", qos=1)
        self.client.on_subscribe = lambda *_: self.subscribed.set()
        self.client.on_message = lambda _c, _u, m: self.messages.append(
            (m.topic, json.loads(m.payload))
        )
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def published(self, slug: str) -> dict[str, list[tuple[int, float]]]:
        """(time, value) per channel name published on ``slug``'s topic, oldest first."""
        out: dict[str, list[tuple[int, float]]] = {name: [] for name in CHANNEL_NAMES}
        for topic, body in self.messages:
            if topic == f"dure-demo/{slug}/press-800t":
                for name, value in body["values"].items():
                    out[name].append((body["ts_us"], value))
        return {name: sorted(rows) for name, rows in out.items()}

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.mark.slow
def test_dure_up_path_readings_go_through_mosquitto_and_the_demo_connectors(
    store: Store, settings: Settings
) -> None:
    """As `dure up` runs it: the feed starts its own Mosquitto, the connector supervisor
    runs the demo connectors as processes, and stopping the feed stops the broker."""
    need_mosquitto()
    _world(store, settings)
    link = open_link(store, settings)  # nothing configured: a Mosquitto of its own
    assert link is not None and link.broker is not None and link.broker.process is not None
    broker = link.broker.process
    feed = DemoFeed(store, wear_day_s=0.5, record_every_s=0.0, link=link).prepare()
    assert sorted(p.slug for p in feed.presses) == ["daesung", "hanul", "mirae"]
    assert feed.link is link and "through MQTT at 127.0.0.1:" in feed.path
    listener = Listener(link.port)
    supervisor = ConnectorSupervisor(store, settings, poll_s=0.3)
    supervisor.start()
    orgs = [p.org_id for p in feed.presses]
    try:
        assert listener.subscribed.wait(10)
        for org_id in orgs:
            wait_for(
                lambda o=org_id: (
                    _connector_state(store, link, o)[1].get("source", {}).get("connected")
                ),
                25,
                "the demo connector to connect",
            )
        ticks = 5
        for k in range(ticks):
            feed.tick(END + timedelta(seconds=2 * (k + 1)))
        for org_id in orgs:
            wait_for(
                lambda o=org_id: _stored_messages(store, link, o) == ticks, 20, "5 stored messages"
            )
            wait_for(
                lambda o=org_id: (
                    _connector_state(store, link, o)[1].get("stored_messages") == ticks
                ),
                10,
                "the connector's status to count them",
            )
        for press in feed.presses:
            published = listener.published(press.slug)
            assert all(len(rows) == ticks for rows in published.values()), published
            assert _live_readings(store, feed, press.slug) == published
            enabled, status = _connector_state(store, link, press.org_id)
            assert enabled and status["source"]["connected"] is True
            assert status["source"]["broker"] == link.address
            assert status["readings"] == ticks * len(CHANNEL_NAMES) and status["rejected"] == 0
    finally:
        listener.close()
        supervisor.stop()
        feed.stop()
    assert broker.poll() is not None, "the feed's Mosquitto outlived it"
    assert link.broker is None
    assert not any(_connector_state(store, link, o)[0] for o in orgs), "demo connectors left on"


@pytest.mark.slow
def test_the_wearing_press_is_raised_from_readings_the_connector_stored(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    """Through a broker at DURE_DEMO_MQTT (the feed starts none): Mirae's anomaly alert
    comes from readings its connector stored; Hanul's process records still break SPC."""
    need_mosquitto()
    broker = Mosquitto(tmp_path / "broker")
    broker.start()
    runs: list[Running] = []
    feed: DemoFeed | None = None
    try:
        _world(store, settings)
        rounds = CheckRounds(store)
        while rounds.run_due():  # the history first, as when `dure up` starts
            pass
        configured = settings.model_copy(update={"demo_mqtt": f"127.0.0.1:{broker.port}"})
        link = open_link(store, configured)
        assert link is not None and link.broker is None and link.port == broker.port
        feed = DemoFeed(store, wear_day_s=0.5, record_every_s=0.0, link=link).prepare()
        runs = [Running(store, settings, c) for c in link.connectors.values()]
        for run in runs:
            wait_for(lambda r=run: r.pipeline.source.describe()["connected"], 10, "a connection")
        mirae = next(p for p in feed.presses if p.slug == "mirae")
        for k in range(30):
            feed.tick(END + timedelta(seconds=2 * (k + 1)))
            for org_id in link.connectors:
                wait_for(
                    lambda o=org_id, n=k + 1: _stored_messages(store, link, o) == n, 10, "the tick"
                )
            rounds.run_due()
        assert len(_live_readings(store, feed, "mirae")["vibration_rms"]) == 30
        with store.session(_admin(mirae.org_id), read_only=True) as s:
            mirae_alerts = s.alerts.list_all()
        hanul = next(p for p in feed.presses if p.slug == "hanul")
        with store.session(_admin(hanul.org_id), read_only=True) as s:
            hanul_alerts = s.alerts.list_all()
    finally:
        for run in runs:
            run.stop()
        if feed is not None:
            feed.stop()
        broker.stop()
    # the history's anomaly alert is there, and the live readings (only the connector
    # stored them) raise the wearing press's vibration again: far beyond its limits, the
    # channel check reports them as WE1 (its anomaly score leaves such readings to WE1)
    assert any(
        a.kind is AlertKind.MACHINE_ANOMALY and "vibration_rms" in a.message for a in mirae_alerts
    )
    live = [
        a
        for a in mirae_alerts
        if a.message.startswith("press-800t/vibration_rms") and "2026-11-30T06:0" in a.message
    ]
    assert live, [(a.kind, a.message) for a in mirae_alerts]
    assert any(a.rule.startswith("die_temp_C: WE") for a in hanul_alerts), [
        a.rule for a in hanul_alerts
    ]


@pytest.mark.slow
def test_without_a_broker_the_feed_writes_directly_and_switches_the_demo_connectors_off(
    store: Store, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    _world(store, settings)
    nobody = settings.model_copy(update={"demo_mqtt": f"127.0.0.1:{free_port()}"})
    assert open_link(store, nobody, find_mosquitto=lambda: None) is None
    # a demo connector left on by an earlier run through a broker that is gone
    probe = DemoFeed(store)
    mirae = next(p for p in probe.find_presses() if p.slug == "mirae")
    with store.session(_admin(mirae.org_id)) as s:
        stale = save_connector(
            s,
            CONNECTOR,
            "mqtt",
            {
                "host": "127.0.0.1",
                "port": 1,
                "client_id": "stale",
                "topics": [{"filter": "dure-demo/mirae/press-800t", "asset": "press-800t"}],
            },
        )
    caplog.set_level(logging.INFO, logger="dure.services.demo.live_feed")
    feed = DemoFeed(store, tick_s=0.05, link=None).start()
    try:
        wait_for(lambda: _live_readings(store, feed, "mirae")["oil_temp"], 20, "direct readings")
    finally:
        feed.stop()
    assert feed._thread is not None and not feed._thread.is_alive()
    assert "readings written directly" in caplog.text
    with store.session(_admin(mirae.org_id), read_only=True) as s:
        assert s.connectors.get(stale.id).enabled is False
        assert s.connectors.count_stored(stale.id) == 0
    rows = _live_readings(store, feed, "daesung")
    assert len({len(v) for v in rows.values()}) == 1 and rows["vibration_rms"]


def test_a_mosquitto_that_cannot_start_means_direct_writes(
    store: Store, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    need_mosquitto()
    settings.home.mkdir(parents=True, exist_ok=True)
    (settings.home / "demo-broker").write_text("a file where the broker's folder goes")
    assert open_link(store, settings) is None
    assert "could not start mosquitto" in caplog.text


def test_a_demo_broker_address_without_a_port_is_refused_naming_the_setting() -> None:
    with pytest.raises(ValidationError, match="DURE_DEMO_MQTT must be host:port"):
        Settings(demo_mqtt="localhost")
    assert Settings(demo_mqtt="broker.local:1883").demo_mqtt == "broker.local:1883"


CHILD = """
import sys, time
from pathlib import Path
from dure.services.live.mosquitto import Mosquitto
broker = Mosquitto(Path(sys.argv[1]))
broker.start(die_with_parent=True)
print(broker.process.pid, flush=True)
time.sleep(120)
"""


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="parent-death signal is Linux's")
def test_the_broker_dure_up_starts_dies_with_it_even_when_killed(tmp_path: Path) -> None:
    need_mosquitto()
    server = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(tmp_path / "broker")],
        stdout=subprocess.PIPE,
        env=Settings(home=tmp_path).child_environment(),
    )
    broker_pid = 0
    try:
        assert server.stdout is not None
        broker_pid = int(server.stdout.readline())
        assert _running(broker_pid)
        server.kill()  # as kill -9: no cleanup runs in the server
        server.wait(10)
        wait_for(lambda: not _running(broker_pid), 15, "the orphaned broker to stop")
    finally:
        if server.poll() is None:
            server.kill()
        if broker_pid and _running(broker_pid):
            os.kill(broker_pid, signal.SIGKILL)


def test_an_old_save_error_in_the_broker_log_does_not_fail_a_later_stop(tmp_path: Path) -> None:
    need_mosquitto()
    folder = tmp_path / "broker"
    folder.mkdir()
    (folder / "mosquitto.log").write_text("1700000000: Error saving in-memory database\n")
    broker = Mosquitto(folder)
    broker.start()
    broker.stop()  # the error is an earlier broker's, in the same persistent folder
    assert "Error saving" in (folder / "mosquitto.log").read_text()  # kept, appended to


def _brokers_of(folder: Path) -> list[int]:
    """Processes running a Mosquitto with the config in ``folder``."""
    conf = str(folder / "mosquitto.conf").encode()
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if conf in cmdline.read_bytes():
                found.append(int(cmdline.parent.name))
        except OSError:
            continue
    return [pid for pid in found if _running(pid)]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_feed_that_cannot_start_stops_the_broker_it_started(
    store: Store, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    need_mosquitto()

    def database_gone(self: DemoFeed) -> list[Any]:
        raise RuntimeError("database gone")

    # a fault the real store does not give on demand: the presses cannot be read
    monkeypatch.setattr(DemoFeed, "find_presses", database_gone)
    with pytest.raises(RuntimeError, match="database gone"):
        start_demo_feed(store, settings)
    wait_for(lambda: not _brokers_of(settings.home / "demo-broker"), 15, "the broker to stop")
