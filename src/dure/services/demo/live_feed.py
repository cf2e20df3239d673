"""The demo's live feed: the suppliers' presses and process records keep arriving while
``dure up`` serves, so the live checks have something to watch within the first minutes.

Every ``tick_s`` each supplier's press writes one reading per channel (vibration, motor
current, oil temperature) at the present time, and now and then a process record of its
press line. The model is the history's (``plant_data``), continued:
- Mirae Metal's press keeps wearing, faster than in the history (a simulated day of wear
  every ``wear_day_s`` seconds), so its vibration climbs, its anomaly alert repeats and
  its remaining life falls while you watch;
- Hanul Stamping's dies stay hot (the +12 °C drift of its history goes on), so its die
  temperature keeps breaking the control limits learned from its first records.

The readings go the way a factory's would when there is an MQTT broker (``feed_mqtt``:
the one at ``DURE_DEMO_MQTT``, or a Mosquitto ``dure up`` starts when installed): each
press publishes them, its supplier's demo connector subscribes and stores them, so the
connector's live status, its refusals and the live checks are all the real ones. Without
a broker they are written directly the way a connector writes them (``readings.insert``
in the supplier's own scope), so the same live checks run on them. Process records are
always written directly: no connector carries process records.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

from dure.domain.records import ProcessRecord
from dure.domain.users import Caller, Role
from dure.errors import NotFound
from dure.services.demo.feed_mqtt import (
    CONNECTOR,
    MqttLink,
    PressOrg,
    open_link,
    park_connectors,
)
from dure.services.demo.plant_data import CHANNELS, PROCESS_SCHEMA
from dure.settings import Settings
from dure.store.repositories.sensor_readings import ReadingColumns
from dure.store.session import Store

log = logging.getLogger(__name__)
WEARING = "mirae"
HOT_DIES = "hanul"


@dataclass
class _Press:
    org_id: str
    slug: str
    channel_ids: list[str]
    part_id: str | None
    line_id: str | None
    history_end: datetime | None

    @property
    def org(self) -> PressOrg:
        """The supplier this press publishes for."""
        return PressOrg(self.org_id, self.slug)


class DemoFeed:
    """A thread sending the demo suppliers' live readings (through ``link`` when given,
    else straight into the store) and writing their process records."""

    def __init__(
        self,
        store: Store,
        tick_s: float = 2.0,
        record_every_s: float = 10.0,
        wear_day_s: float = 60.0,
        seed: int = 11,
        link: MqttLink | None = None,
    ) -> None:
        self.store = store
        self.link = link
        self.tick_s = tick_s
        self.record_every_s = record_every_s
        self.wear_day_s = wear_day_s
        self.rng = np.random.default_rng(seed)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._started = time.monotonic()
        self._last_record = 0.0
        self.presses: list[_Press] = []

    def find_presses(self) -> list[_Press]:
        """The demo suppliers' presses (and a door-panel part of each) as stored."""
        with self.store.system(read_only=True) as system:
            orgs = []
            for slug in SUPPLIER_SLUGS:
                try:
                    orgs.append(system.organisations.get_by_slug(slug))
                except NotFound:
                    continue
        presses = []
        for org in orgs:
            caller = Caller(org_id=org.id, user_id=None, role=Role.OPERATOR, org_kind="supplier")
            with self.store.session(caller, read_only=True) as s:
                assets = [a for a in s.assets.list_own() if a.name == "press-800t"]
                if not assets:
                    continue
                channels = {c.name: c.id for c in s.channels.list_own(asset_id=assets[0].id)}
                if any(name not in channels for name, _ in CHANNELS):
                    continue
                parts = s.parts.list_own()
                last = s.readings.latest(channels[CHANNELS[0][0]], 1)
            presses.append(
                _Press(
                    org_id=org.id,
                    slug=org.slug,
                    channel_ids=[channels[name] for name, _ in CHANNELS],
                    part_id=parts[0].id if parts else None,
                    line_id=assets[0].line_id,
                    history_end=datetime.fromtimestamp(last[0].ts_us / 1e6, UTC) if last else None,
                )
            )
        return presses

    @property
    def path(self) -> str:
        """Which way the readings go, in words."""
        if self.link is None:
            return "readings written directly (no MQTT broker: DURE_DEMO_MQTT or mosquitto)"
        return (
            f"readings through MQTT at {self.link.address}, stored by the {CONNECTOR!r} connectors"
        )

    def prepare(self) -> DemoFeed:
        """Find the presses and, with a link, save their connectors and connect it."""
        self.presses = self.find_presses()
        if self.link is not None:
            try:
                self.link.connect([p.org for p in self.presses])
            except OSError as exc:  # the broker went away since it answered
                log.warning("demo feed: cannot publish to %s (%s)", self.link.address, exc)
                self.link.close()
                self.link = None
        if self.link is None:
            park_connectors(self.store)  # left by an earlier run through a broker now gone
        self._started = time.monotonic()
        log.info("demo feed: %d presses; %s", len(self.presses), self.path)
        return self

    def start(self) -> DemoFeed:
        """Start sending (a daemon thread; ``stop`` ends it and closes the link)."""
        self.prepare()
        self._thread = threading.Thread(target=self._loop, name="dure-demo-feed", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop sending; close the link (stopping the broker it started)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        if self.link is not None:
            self.link.close()

    def _loop(self) -> None:
        while not self._stop.wait(self.tick_s):
            try:
                self.tick()
            except Exception as exc:  # noqa: BLE001 - a demo feed never stops the server
                log.warning("demo feed: %s", exc)

    def tick(self, now: datetime | None = None) -> None:
        """Send one reading per channel of every press (and write a process record when
        due)."""
        now = now or datetime.now(UTC)
        elapsed = time.monotonic() - self._started
        record_due = elapsed - self._last_record >= self.record_every_s
        for press in self.presses:
            values = self.readings(press, now, elapsed)
            ts = int(now.timestamp() * 1e6)
            if self.link is not None:
                self.link.send(
                    press.org, ts, dict(zip(CHANNEL_NAMES, map(float, values), strict=True))
                )
            with self.store.session(self._operator(press)) as s:
                if self.link is None:
                    s.readings.insert(
                        ReadingColumns(
                            press.channel_ids,
                            np.arange(len(values), dtype=np.int32),
                            np.full(len(values), ts, dtype=np.int64),
                            np.asarray(values, dtype=np.float64),
                        )
                    )
                if record_due and press.part_id is not None:
                    s.process_records.add_new([self.record(press, now)])
        if record_due:
            self._last_record = elapsed

    @staticmethod
    def _operator(press: _Press) -> Caller:
        return Caller(org_id=press.org_id, user_id=None, role=Role.OPERATOR)

    def readings(self, press: _Press, now: datetime, elapsed: float) -> list[float]:
        """This moment's vibration, motor current and oil temperature of one press."""
        day_phase = (now.hour + now.minute / 60) / 24
        shift = math.sin(2 * math.pi * day_phase)
        wear = 0.0
        if press.slug == WEARING:
            # the history ends a third of a wear-scale before failure; go on from there
            age = -1.0 + elapsed / self.wear_day_s
            wear = min(math.exp(age / 3.0), 3.0)
        noise = self.rng.normal(0, 1, 3)
        return [
            2.2 + 0.25 * shift + 6.0 * wear + 0.12 * noise[0],
            38 + 3 * shift + 6 * wear + 0.6 * noise[1],
            45 + 4 * shift + 12 * wear + 0.5 * noise[2],
        ]

    def record(self, press: _Press, now: datetime) -> ProcessRecord:
        """One process record of the press line (Hanul's dies run hot)."""
        die = self.rng.normal(70.0 if press.slug == HOT_DIES else 58.0, 3)
        values = {
            "press_force_kN": float(self.rng.normal(820, 25)),
            "stroke_rate_spm": float(self.rng.normal(42, 2)),
            "die_temp_C": float(die),
            "sheet_thickness_mm": float(self.rng.normal(0.8, 0.015)),
            "lubricant_ml": float(max(self.rng.normal(8, 1.5), 0.5)),
        }
        units = {k: str(v["unit"]) for k, v in PROCESS_SCHEMA["parameters"].items()}
        return ProcessRecord(
            org_id=press.org_id,
            part_id=press.part_id or "",
            recorded_at=now,
            values={k: round(v, 3) for k, v in values.items()},
            units=units,
            line_id=press.line_id,
            serial=f"LIVE-{int(now.timestamp() * 1000)}",
        )


SUPPLIER_SLUGS = ("daesung", "mirae", "hanul")
CHANNEL_NAMES = tuple(name for name, _ in CHANNELS)


def start_demo_feed(store: Store, settings: Settings) -> DemoFeed:
    """The demo feed started over the demo's broker (``open_link``); when it cannot
    start, the broker that link started is stopped before the error goes on."""
    link = open_link(store, settings)
    try:
        return DemoFeed(store, link=link).start()
    except BaseException:
        if link is not None:
            link.close()
        raise
