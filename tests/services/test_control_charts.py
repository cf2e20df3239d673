"""Process control charts: the right rules at the right points, quiet on in-control data,
honest Cpk intervals, and the same answer whatever order or gaps the records came in."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from dure.domain.parts import PartNumber
from dure.domain.records import ProcessRecord
from dure.errors import InvalidInput, NotFound
from dure.services.platform.accounts import create_org, system_caller
from dure.services.process.control_charts import (
    ParameterSettings,
    charts_of_records,
    parameter_charts,
)
from dure.services.process.specs import set_spec
from dure.store.session import Store

START = datetime(2026, 5, 4, 6, 0, tzinfo=UTC)


def _records(values: np.ndarray, lot_size: int | None = None, name: str = "x") -> list:
    return [
        ProcessRecord(
            org_id="o",
            part_id="p",
            recorded_at=START + timedelta(minutes=10 * i),
            values={name: float(v)},
            lot_id=None if lot_size is None else f"L{i // lot_size:03d}",
        )
        for i, v in enumerate(values)
    ]


def _hits(chart, rule: str) -> list[int]:  # type: ignore[no-untyped-def]
    return [v.index for v in chart.violations if v.rule == rule]


def test_a_three_sigma_step_breaks_the_rules_from_the_step_on() -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(10.0, 1.0, 90)
    x[60:] += 3.0  # +3σ from point 60
    (chart,) = charts_of_records(_records(x))
    assert chart.kind == "i-mr" and chart.subgrouping == "none" and chart.baseline == 50
    assert chart.violations and min(v.index for v in chart.violations) >= 60
    assert chart.violations[0].index <= 63  # a +3σ step is caught within a few points
    centre = x[:50].mean()
    eighth_above = next(i for i in range(57, 90) if (x[i - 7 : i + 1] > centre).all())
    assert min(_hits(chart, "WE4")) == eighth_above <= 67  # 8 in a row above the centre
    assert len(set(_hits(chart, "WE1"))) >= 10  # about half of the 30 shifted points
    first = chart.violations[0]
    assert first.time == START + timedelta(minutes=10 * first.index)
    assert first.value == pytest.approx(x[first.index])
    assert first.name  # a human name beside the code


def test_a_slow_drift_crosses_the_limit_where_the_data_do() -> None:
    rng = np.random.default_rng(11)
    x = rng.normal(50.0, 2.0, 120)
    x[60:] += 0.15 * np.arange(60)  # 0.075σ more every point from point 60
    (chart,) = charts_of_records(_records(x))
    # limits computed here independently: mean and MR̄/1.128 of the first 50 points
    base = x[:50]
    ucl = base.mean() + 3 * np.abs(np.diff(base)).mean() / 1.128379
    assert chart.ucl[0] == pytest.approx(ucl, rel=1e-4)
    expected_first = next(i for i in range(50, 120) if x[i] > ucl)
    assert expected_first >= 60
    assert min(_hits(chart, "WE1")) == expected_first
    assert min(v.index for v in chart.violations) >= 60  # nothing before the drift starts
    nelson = charts_of_records(_records(x), settings={"x": ParameterSettings(rules="nelson")})
    assert {v.rule for v in nelson[0].violations} >= {"N1", "N2"}


def test_in_control_data_break_no_rule() -> None:
    # Western Electric's four rules together false-alarm on ~1 point in 90 of normal data:
    # with lots of 5 and 20 checked subgroups this seed is quiet, as most are.
    x = np.random.default_rng(0).normal(820.0, 25.0, 40 * 5)
    (chart,) = charts_of_records(_records(x, lot_size=5))
    assert chart.kind == "xbar-r" and chart.subgrouping == "lot"
    assert chart.subgroup_sizes == [5] * 40 and chart.baseline == 20
    assert chart.violations == []


def test_stored_limits_replace_the_baseline() -> None:
    x = np.random.default_rng(4).normal(10.0, 1.0, 30)
    x[5] = 20.0
    conf = ParameterSettings(centre=10.0, lcl=7.0, ucl=13.0)
    (chart,) = charts_of_records(_records(x), settings={"x": conf})
    assert chart.limits_from == "settings" and chart.baseline == 0
    assert chart.ucl[0] == 13.0 and 5 in _hits(chart, "WE1")
    with pytest.raises(InvalidInput) as bad:
        charts_of_records(_records(x), settings={"x": ParameterSettings(centre=10.0)})
    assert bad.value.field == "settings.x"
    with pytest.raises(InvalidInput) as bad:
        charts_of_records(_records(x), settings={"x": ParameterSettings(rules="westen")})
    assert bad.value.field == "settings.x.rules"


def test_cpk_interval_covers_the_true_cpk_in_most_draws() -> None:
    # N(10, 1) against 7–14: true Cpk = min(14 − 10, 10 − 7) / 3 = 1.0
    for lots in (None, 5):
        covered = 0
        for seed in range(50):
            x = np.random.default_rng(1000 + seed).normal(10.0, 1.0, 100)
            (chart,) = charts_of_records(
                _records(x, lot_size=lots),
                baseline=100 if lots is None else 20,
                settings={"x": ParameterSettings(lower_spec=7.0, upper_spec=14.0)},
            )
            cpk = chart.capability.cpk  # type: ignore[union-attr]
            covered += cpk.lower <= 1.0 <= cpk.upper
            assert chart.capability.n == 100  # type: ignore[union-attr]
        assert covered >= 45, f"{covered}/50 intervals hold the true Cpk (lots of {lots})"


def test_no_spec_limits_no_cpk() -> None:
    (chart,) = charts_of_records(_records(np.random.default_rng(2).normal(0, 1, 60)))
    assert chart.capability is None


def _shop(store: Store):  # type: ignore[no-untyped-def]
    with store.system() as s:
        org = create_org(s, "Press Co", "supplier", "press-co")
        other = create_org(s, "Other Co", "supplier", "other-co")
    caller = system_caller(org)
    with store.session(caller) as s:
        part = s.parts.add(PartNumber(org_id=org.id, number="P-1", name="Panel"))
    with store.session(system_caller(other)) as s:
        foreign = s.parts.add(PartNumber(org_id=other.id, number="P-9", name="Other"))
    return caller, part, foreign


def _store_records(store: Store, caller, part, order: list[int], times, values) -> None:  # type: ignore[no-untyped-def]
    with store.session(caller) as s:
        for i in order:
            vals = {"die_temp_C": float(values[i]), "force": 800.0 + i % 7}
            if i % 17 == 3:
                del vals["die_temp_C"]  # not measured on this record
            s.process_records.add(
                ProcessRecord(
                    org_id=caller.org_id,
                    part_id=part.id,
                    recorded_at=times[i],
                    values=vals,
                    units={"die_temp_C": "°C"},
                    serial=f"S{i:04d}",
                )
            )


def test_order_and_gaps_do_not_change_the_charts(store: Store, settings) -> None:  # type: ignore[no-untyped-def]
    caller, part, foreign = _shop(store)
    rng = np.random.default_rng(8)
    n = 120
    values = rng.normal(58, 3, n) + np.where(np.arange(n) >= 80, 9.0, 0.0)
    # a weekend gap after record 40 and a stop of a day after record 90
    gaps = np.cumsum([timedelta(minutes=15)] * n)
    times = [
        START + g + (timedelta(days=2) if i > 40 else timedelta(0)) for i, g in enumerate(gaps)
    ]
    times = [t + (timedelta(days=1) if i > 90 else timedelta(0)) for i, t in enumerate(times)]
    order = list(rng.permutation(n))
    _store_records(store, caller, part, order, times, values)
    with store.session(caller, read_only=True) as s:  # a read-only session: nothing written
        set_charts = parameter_charts(s, part.id)
    sorted_charts = charts_of_records(
        [
            ProcessRecord(
                org_id="o",
                part_id="p",
                recorded_at=times[i],
                values={"die_temp_C": float(values[i]), "force": 800.0 + i % 7}
                if i % 17 != 3
                else {"force": 800.0 + i % 7},
                units={"die_temp_C": "°C"},
            )
            for i in range(n)
        ]
    )
    assert [c.parameter for c in set_charts] == ["die_temp_C", "force"]
    for stored, in_order in zip(set_charts, sorted_charts, strict=True):
        assert asdict(stored) == asdict(in_order)
    temp = set_charts[0]
    assert temp.unit == "°C" and temp.records == n - len([i for i in range(n) if i % 17 == 3])
    assert "7 records have no finite die_temp_C value" in temp.notes[0]
    assert temp.violations and min(v.index for v in temp.violations) >= 50


def test_charts_read_the_callers_own_part_only(store: Store) -> None:
    caller, part, foreign = _shop(store)
    values = np.random.default_rng(1).normal(0, 1, 30)
    _store_records(
        store,
        caller,
        part,
        list(range(30)),
        [START + timedelta(hours=i) for i in range(30)],
        values,
    )
    with store.session(caller, read_only=True) as s:
        with pytest.raises(NotFound):
            parameter_charts(s, foreign.id)
        with pytest.raises(InvalidInput) as bad:
            parameter_charts(s, part.id, ["die_tmp_C"])
        assert bad.value.field == "parameter"
    with store.session(caller) as s:
        set_spec(s, part.id, "die_temp_C", -3.0, 3.0)
        with pytest.raises(InvalidInput) as bad:
            set_spec(s, part.id, "die_temp_C", 3.0, -3.0)
        assert bad.value.field == "upper"
    with store.session(caller, read_only=True) as s:
        (chart,) = parameter_charts(s, part.id, ["die_temp_C"])
    assert chart.capability is not None and chart.capability.upper_spec == 3.0


def test_since_keeps_the_newest_violations_only() -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(10.0, 1.0, 90)
    x[60:] += 3.0
    (every,) = charts_of_records(_records(x))
    cut = START + timedelta(minutes=10 * 80)
    (newest,) = charts_of_records(_records(x), since=cut)
    assert newest.violations == [v for v in every.violations if v.time >= cut]
    assert newest.violations and newest.values == every.values  # the chart itself is whole
