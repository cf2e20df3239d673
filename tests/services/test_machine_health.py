"""A machine's health from its stored readings: aligned channels with gaps and late
channels, RUL in hours or days, the Machines views, and another organisation's machine."""

from __future__ import annotations

import numpy as np
import pytest

from dure.domain.plant import Asset, SensorChannel
from dure.domain.users import Caller
from dure.errors import InvalidInput, NotFound, StateConflict
from dure.services.maintenance.health import asset_health
from dure.services.maintenance.machines import machine_view, machines_view
from dure.services.platform.accounts import create_org, system_caller
from dure.store.repositories.sensor_readings import ReadingColumns
from dure.store.session import Store

T0 = 1_795_000_000_000_000
TEN_MIN_US = 600 * 1_000_000


def _machine(
    store: Store, slug: str, wear_per_day: float, days: int = 20
) -> tuple[Caller, str, list[str]]:
    """A machine with vibration and current every 10 min for ``days`` (a 6-hour outage on
    day 12, current missing one reading in ten); vibration wears linearly after day 8."""
    with store.system() as s:
        org = create_org(s, f"Shop {slug}", "supplier", slug)
    caller = system_caller(org)
    rng = np.random.default_rng(len(slug))
    n = days * 144
    ts = T0 + np.arange(n, dtype=np.int64) * TEN_MIN_US
    day = np.arange(n) / 144
    keep = ~((day >= 12) & (day < 12.25))
    vib = 2.0 + rng.normal(0, 0.1, n) + wear_per_day * np.clip(day - 8, 0, None)
    cur = 30.0 + rng.normal(0, 0.5, n)
    with store.session(caller) as s:
        asset = s.assets.add(Asset(org_id=org.id, name=f"{slug}-press", kind="press"))
        channels = [
            s.channels.add(SensorChannel(org_id=org.id, asset_id=asset.id, name=name, unit=u))
            for name, u in (("vibration_rms", "mm/s"), ("motor_current", "A"))
        ]
        cur_keep = keep & (np.arange(n) % 10 != 3)
        for channel, values, mask in ((channels[0], vib, keep), (channels[1], cur, cur_keep)):
            s.readings.insert(
                ReadingColumns(
                    [channel.id], np.zeros(int(mask.sum()), np.int32), ts[mask], values[mask]
                )
            )
        s.assets.add(Asset(org_id=org.id, name=f"{slug}-idle"))  # no channels yet
    return caller, asset.id, [c.id for c in channels]


def test_a_wearing_machine_has_a_finite_rul_and_its_driver(store: Store) -> None:
    caller, asset_id, channel_ids = _machine(store, "wearing", wear_per_day=0.05)
    with store.session(caller) as s:
        health = asset_health(s, asset_id)
        summary = health.summary()
    assert summary["status"] == "degrading", summary["rul"]
    rul = summary["rul"]
    assert rul["unit"] in ("hours", "days")
    assert rul["low"] <= rul["value"] <= (rul["high"] or np.inf)
    assert rul["hours"]["value"] == pytest.approx(
        rul["value"] * (24 if rul["unit"] == "days" else 1), rel=1e-2
    )
    assert summary["drivers"][0]["name"] == "vibration_rms"
    assert summary["drivers"][0]["channel_id"] == channel_ids[0]
    assert 0 <= summary["health_percent"] < 100
    assert summary["model"]["kind"] == "health-index"
    assert summary["model"]["source"].startswith("degradation index")
    assert len(summary["index"]["series"]) <= 300
    assert [b["name"] for b in summary["normal_band"]] == ["vibration_rms", "motor_current"]
    # the outage and the missing current readings are skipped, not filled
    assert len(health.readings.ts_us) < 20 * 144 * 0.9


def test_a_healthy_machine_is_not_degrading_and_views_list_every_machine(store: Store) -> None:
    caller, asset_id, _ = _machine(store, "steady", wear_per_day=0.0)
    with store.session(caller) as s:
        listing = machines_view(s)["machines"]
        view = machine_view(s, asset_id, points=100)
    by_name = {m["name"]: m for m in listing}
    assert by_name["steady-press"]["status"] == "not degrading"
    assert by_name["steady-press"]["rul"]["value"] is None
    assert by_name["steady-press"]["health_percent"] > 90
    assert (
        by_name["steady-idle"]["status"] == "no data"
        and "no sensor channels" in (by_name["steady-idle"]["problem"])
    )
    assert listing[-1]["name"] == "steady-idle"  # machines without data come last
    assert [c["name"] for c in view["channels"]] == ["vibration_rms", "motor_current"]
    for channel in view["channels"]:
        assert len(channel["points"]) <= 100
        assert channel["band"]["low"] < channel["band"]["high"]
    assert view["alerts"] == []


def test_another_organisations_machine_is_not_found_and_bad_input_names_the_field(
    store: Store,
) -> None:
    caller, asset_id, _ = _machine(store, "mine", wear_per_day=0.1, days=6)
    other, _, _ = _machine(store, "theirs", wear_per_day=0.0, days=6)
    with store.session(other) as s, pytest.raises(NotFound):
        asset_health(s, asset_id)
    with store.session(other) as s, pytest.raises(NotFound):
        machine_view(s, asset_id)
    with store.session(caller) as s:
        for call, field in (
            (lambda: asset_health(s, asset_id, baseline=5), "baseline"),
            (lambda: asset_health(s, asset_id, coverage=1.0), "coverage"),
            (lambda: asset_health(s, asset_id, failure_level=0.5), "failure_level"),
            (lambda: machine_view(s, asset_id, points=3), "points"),
        ):
            with pytest.raises(InvalidInput) as info:
                call()
            assert info.value.field == field
        with pytest.raises(StateConflict) as conflict:
            asset_health(s, asset_id, baseline=5000)  # more than the machine has
        assert conflict.value.field == "asset_id"
