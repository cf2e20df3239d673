"""A fleet of presses of one kind run to recorded failures, for the run-to-failure tests.

Six presses read every 10 min run until a recorded failure after 14 to 29 days; their
vibration (and a little their motor current) wears up quadratically, with noise, over the
last 8 days of each life.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np

from dure.domain.plant import Asset, SensorChannel
from dure.domain.users import Caller
from dure.services.maintenance.events import record_event
from dure.services.platform.accounts import create_org, system_caller
from dure.store.repositories.sensor_readings import ReadingColumns
from dure.store.session import Store

T0 = datetime(2026, 6, 1, tzinfo=UTC)
T0_US = int(T0.timestamp()) * 1_000_000
TEN_MIN_US = 600 * 1_000_000
PER_DAY = 144
WEAR_DAYS = 8.0
LIVES = (14.0, 17.0, 20.0, 23.0, 26.0, 29.0)


def new_org(store: Store, slug: str) -> Caller:
    with store.system() as s:
        org = create_org(s, f"Shop {slug}", "supplier", slug)
    return system_caller(org)


def press(
    store: Store,
    caller: Caller,
    name: str,
    life_days: float,
    seen_days: float,
    seed: int,
    vibration_unit: str = "mm/s",
) -> str:
    """A press whose vibration wears up over the last ``WEAR_DAYS`` of ``life_days``,
    read for its first ``seen_days`` (every 10 min, vibration and motor current)."""
    rng = np.random.default_rng(seed)
    n = int(seen_days * PER_DAY)
    days = np.arange(n) / PER_DAY
    wear = np.clip((days - (life_days - WEAR_DAYS)) / WEAR_DAYS, 0, None) ** 2
    vibration = 2.0 + 3.0 * wear + rng.normal(0, 0.1, n)
    current = 30.0 + 2.0 * wear + rng.normal(0, 0.5, n)
    ts = T0_US + np.arange(n, dtype=np.int64) * TEN_MIN_US
    with store.session(caller) as s:
        asset = s.assets.add(Asset(org_id=caller.org_id, name=name, kind="press"))
        for channel_name, unit, values in (
            ("vibration_rms", vibration_unit, vibration),
            ("motor_current", "A", current),
        ):
            channel = s.channels.add(
                SensorChannel(org_id=caller.org_id, asset_id=asset.id, name=channel_name, unit=unit)
            )
            s.readings.insert(ReadingColumns([channel.id], np.zeros(n, np.int32), ts, values))
    return asset.id


def run_fleet(store: Store, caller: Caller, failures: int = len(LIVES)) -> list[str]:
    """Presses run to a recorded failure (the first ``failures`` of ``LIVES``)."""
    ids = []
    for k, life in enumerate(LIVES[:failures]):
        asset_id = press(store, caller, f"press-{k}", life, life, seed=k)
        with store.session(caller) as s:
            record_event(s, asset_id, "failure", T0 + timedelta(days=life), "bearing seized")
        ids.append(asset_id)
    return ids
