"""Live checks: readings marked when stored, checked once by the checks lane, alerts raised
for what breaks a rule, and nothing raised by a healthy feed with gaps, late or
out-of-order readings."""

from __future__ import annotations

import numpy as np
import pytest

from dure.domain.alerts import AlertKind, AlertStatus
from dure.domain.live_checks import RULES, SPC_RULES, SubjectKind, checked_settings
from dure.domain.plant import Asset, SensorChannel
from dure.domain.users import Caller
from dure.errors import InvalidInput
from dure.models.spc.rules import RULE_NAMES, RULES_BY_CODE
from dure.services.monitoring.runner import CheckRounds
from dure.services.platform.accounts import create_org, system_caller
from dure.store.repositories.sensor_readings import ReadingColumns
from dure.store.session import Store

T0 = 1_795_000_000_000_000
SECOND = 1_000_000


def _machine(store: Store, channels: tuple[str, ...] = ("vibration",)) -> tuple[Caller, list[str]]:
    with store.system() as s:
        org = create_org(s, "Live Shop", "supplier", "live-shop")
    caller = system_caller(org)
    with store.session(caller) as s:
        asset = s.assets.add(Asset(org_id=org.id, name="press9"))
        ids = [
            s.channels.add(SensorChannel(org_id=org.id, asset_id=asset.id, name=n)).id
            for n in channels
        ]
    return caller, ids


def _write(store: Store, caller: Caller, channel_id: str, ts_us: np.ndarray, values) -> None:
    with store.session(caller) as s:
        s.readings.insert(
            ReadingColumns(
                [channel_id],
                np.zeros(len(ts_us), np.int32),
                np.asarray(ts_us, dtype=np.int64),
                np.asarray(values, dtype=np.float64),
            )
        )


def _drain(rounds: CheckRounds) -> None:
    for _ in range(20):
        if rounds.run_due() == 0:
            return


def _alerts(store: Store, caller: Caller):  # type: ignore[no-untyped-def]
    with store.session(caller) as s:
        return s.alerts.list_all()


def test_rule_codes_are_the_same_in_the_domain_and_the_spc_model() -> None:
    assert set(SPC_RULES) == set(RULES_BY_CODE) == set(RULE_NAMES)


def test_a_stored_spike_raises_one_alert_naming_the_rule_and_linking_the_chart(
    store: Store,
) -> None:
    rng = np.random.default_rng(1)
    caller, (channel,) = _machine(store)
    ts = T0 + np.arange(400) * SECOND
    _write(store, caller, channel, ts[:300], rng.normal(2.0, 0.1, 300))
    rounds = CheckRounds(store)
    _drain(rounds)
    assert _alerts(store, caller) == []  # 100 healthy readings after the baseline
    _write(store, caller, channel, ts[300:301], [4.0])  # 20 sigma
    _drain(rounds)
    (alert,) = _alerts(store, caller)
    assert alert.kind is AlertKind.SPC_RULE and alert.rule.startswith("WE1")
    assert alert.subject_id == channel and "4 " in alert.message
    assert alert.link is not None and alert.link.endswith(f"?channel={channel}")
    _write(store, caller, channel, ts[301:302], [4.2])  # the same problem again: counted
    _drain(rounds)
    (again,) = _alerts(store, caller)
    assert again.id == alert.id and again.count == 2


def test_a_slow_drift_raises_an_anomaly_alert(store: Store) -> None:
    rng = np.random.default_rng(2)
    caller, (channel,) = _machine(store)
    n = 800
    values = rng.normal(2.0, 0.1, n) + np.r_[np.zeros(400), np.linspace(0, 0.6, 400)]
    _write(store, caller, channel, T0 + np.arange(n) * SECOND, values)
    _drain(CheckRounds(store))
    kinds = {a.kind for a in _alerts(store, caller)}
    assert AlertKind.MACHINE_ANOMALY in kinds


def test_a_healthy_feed_with_gaps_late_and_out_of_order_readings_raises_nothing(
    store: Store,
) -> None:
    rng = np.random.default_rng(3)
    caller, (channel,) = _machine(store)
    rounds = CheckRounds(store)
    n = 3000
    ts = T0 + np.arange(n) * SECOND
    ts[1500:] += 3600 * SECOND  # an hour's gap
    values = rng.normal(50.0, 1.0, n)
    order = np.arange(n)
    for start in range(0, n, 50):  # batches of 50, shuffled inside each batch
        rng.shuffle(order[start : start + 50])
    late = []
    for start in range(0, n, 50):
        batch = order[start : start + 50]
        keep = [i for i in batch if i % 97 != 5]  # some readings arrive a batch late
        late += [i for i in batch if i % 97 == 5]
        _write(store, caller, channel, ts[keep], values[keep])
        if start % 200 == 0 and late:
            _write(store, caller, channel, ts[late], values[late])
            late = []
        rounds.run_due()
    _drain(rounds)
    alerts = _alerts(store, caller)
    assert alerts == [], [a.message for a in alerts]


def test_settings_are_refused_naming_the_field() -> None:
    with pytest.raises(InvalidInput) as bad:
        checked_settings("channel", ["WE9"], None, None)
    assert bad.value.field == "rules" and "WE9" in bad.value.detail
    with pytest.raises(InvalidInput) as bad:
        checked_settings("gearbox", None, None, None)
    assert bad.value.field == "subject_kind"
    with pytest.raises(InvalidInput) as bad:
        checked_settings("channel", None, 0.9, None)
    assert bad.value.field == "false_alarm_rate"
    with pytest.raises(InvalidInput) as bad:
        checked_settings("channel", None, None, 5)
    assert bad.value.field == "baseline"
    assert checked_settings("asset", ["cross_channel"], None, None)["rules"] == list(
        RULES[SubjectKind.ASSET]
    )


def test_channels_of_one_machine_out_of_their_usual_relation_raise_a_machine_alert(
    store: Store,
) -> None:
    rng = np.random.default_rng(4)
    caller, (current, heat) = _machine(store, ("current", "heat"))
    n = 600
    load = rng.normal(0, 1, n)
    a = 40 + 3 * load + rng.normal(0, 0.2, n)
    b = 60 + 3 * load + rng.normal(0, 0.2, n)
    b[500:520] = 60 - 3 * load[500:520]  # heat stops following the load
    ts = T0 + np.arange(n) * SECOND
    _write(store, caller, current, ts, a)
    _write(store, caller, heat, ts, b)
    rounds = CheckRounds(store)
    _drain(rounds)
    machine = [
        a for a in _alerts(store, caller) if a.rule == "channels out of their usual relation"
    ]
    assert len(machine) == 1 and machine[0].link.startswith("/machines/")


def test_a_late_reading_beyond_the_limits_still_raises_its_alert_once(store: Store) -> None:
    rng = np.random.default_rng(5)
    caller, (channel,) = _machine(store)
    ts = T0 + np.arange(400) * SECOND
    rounds = CheckRounds(store)
    _write(store, caller, channel, ts[:350], rng.normal(2.0, 0.1, 350))
    _drain(rounds)
    _write(store, caller, channel, ts[360:380], rng.normal(2.0, 0.1, 20))  # watch passes 360
    _drain(rounds)
    _write(store, caller, channel, ts[355:356], [5.0])  # stored after, older than the bookmark
    _drain(rounds)
    (alert,) = _alerts(store, caller)
    assert alert.rule.startswith("WE1") and "late reading" in alert.message
    _write(store, caller, channel, ts[352:353], [2.01])  # another late one, healthy
    _drain(rounds)
    (again,) = _alerts(store, caller)
    assert again.count == 1  # the late spike is not raised a second time


def _records(store: Store, caller: Caller, values: np.ndarray, start: int = 0) -> str:
    from datetime import UTC, datetime, timedelta

    from dure.domain.parts import PartNumber
    from dure.domain.records import ProcessRecord

    with store.session(caller) as s:
        found = [p for p in s.parts.list_own() if p.number == "P-1"]
        part = (
            found[0]
            if found
            else s.parts.add(PartNumber(org_id=caller.org_id, number="P-1", name="bracket"))
        )
        t0 = datetime(2026, 11, 1, tzinfo=UTC)
        s.process_records.add_new(
            [
                ProcessRecord(
                    org_id=caller.org_id,
                    part_id=part.id,
                    recorded_at=t0 + timedelta(minutes=10 * (start + i)),
                    values={"die_temp_C": float(v), "force_kN": float(800.0 + 3 * np.sin(i))},
                    serial=f"S{start + i}",
                )
                for i, v in enumerate(values)
            ]
        )
    return part.id


def test_new_process_records_break_a_rule_on_their_parameter_and_a_switched_off_one_is_quiet(
    store: Store,
) -> None:
    rng = np.random.default_rng(6)
    caller, _ = _machine(store)
    rounds = CheckRounds(store)
    part = _records(store, caller, rng.normal(58, 1, 80))
    _drain(rounds)
    assert [a for a in _alerts(store, caller) if ": WE1" in a.rule] == []
    _records(store, caller, [66.0, 58.2], start=80)  # 8 sigma hot
    _drain(rounds)
    (hot,) = [a for a in _alerts(store, caller) if a.rule.startswith("die_temp_C: WE1")]
    assert hot.subject_id == part and hot.link == f"/process?part={part}&parameter=die_temp_C"
    from dure.services.monitoring.configs import configure_check

    with store.session(caller) as s:
        configure_check(s, "parameter", part, "die_temp_C", enabled=False)
        s.alerts.set_status(hot.id, AlertStatus.CLOSED)
    _records(store, caller, [67.0], start=82)
    _drain(rounds)
    assert [a for a in _alerts(store, caller) if a.status is not AlertStatus.CLOSED] == []
