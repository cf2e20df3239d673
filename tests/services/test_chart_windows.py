"""Control charts and live part checks on long histories: bounded reads from the store
(the oldest records for the limits, the newest for the chart), limits equal to those of
the whole history's first points, and below the window the very same charts as before."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest

from dure.domain.parts import Lot, PartNumber
from dure.domain.records import ProcessRecord
from dure.domain.users import Caller
from dure.services.dashboard.process_view import chart_json, process_view
from dure.services.monitoring.runner import CheckRounds
from dure.services.platform.accounts import create_org, system_caller
from dure.services.process.chart_windows import CHART_RECORDS, LOOKBACK_RECORDS, limit_records
from dure.services.process.control_charts import (
    ChartWindow,
    ParameterSettings,
    charts_of_records,
    parameter_charts,
)
from dure.services.process.specs import set_spec
from dure.store.repositories.records import ProcessRecordRepository
from dure.store.session import Store

START = datetime(2026, 11, 2, 6, 0, tzinfo=UTC)
LONG = 30_000


def _part(store: Store) -> tuple[Caller, str]:
    with store.system() as s:
        org = create_org(s, "Fast Line", "supplier", "fast-line")
    caller = system_caller(org)
    with store.session(caller) as s:
        part = s.parts.add(PartNumber(org_id=org.id, number="P-7", name="clip"))
    return caller, part.id


def _made(
    caller: Caller, part_id: str, values: np.ndarray, lot: int | None = None, first: int = 0
) -> list[ProcessRecord]:
    return [
        ProcessRecord(
            org_id=caller.org_id,
            part_id=part_id,
            recorded_at=START + timedelta(seconds=first + i),
            values={"x": float(v)},
            units={"x": "mm"},
            serial=f"S{first + i}",
            lot_id=None if lot is None else f"L{(first + i) // lot}",
        )
        for i, v in enumerate(values)
    ]


def _stored(store: Store, caller: Caller, records: list[ProcessRecord]) -> None:
    lots = sorted({r.lot_id for r in records if r.lot_id})
    with store.session(caller) as s:
        if lots:
            part_id = records[0].part_id
            ids = {
                name: s.lots.add(Lot(org_id=caller.org_id, part_id=part_id, code=name)).id
                for name in lots
            }
            records = [r if r.lot_id is None else _with_lot(r, ids[r.lot_id]) for r in records]
        assert s.process_records.add_new(records) == len(records)


def _with_lot(record: ProcessRecord, lot_id: str) -> ProcessRecord:
    return replace(record, lot_id=lot_id)


class _Reads:
    """Counts what the process-record repository hands back: its real reads, wrapped."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls: list[tuple[str, int]] = []
        for name in ("own_between", "own_oldest", "own_newest"):
            read = getattr(ProcessRecordRepository, name)
            monkeypatch.setattr(ProcessRecordRepository, name, self._counted(name, read))

    def _counted(self, name: str, read: Callable[..., list[Any]]) -> Callable[..., list[Any]]:
        def counted(repo: ProcessRecordRepository, *args: Any, **kwargs: Any) -> list[Any]:
            found = read(repo, *args, **kwargs)
            self.calls.append((name, len(found)))
            return found

        return counted

    @property
    def records(self) -> int:
        return sum(n for _, n in self.calls)


def _shifted(rng: np.random.Generator, n: int, shift_from: int) -> np.ndarray:
    x = rng.normal(50.0, 2.0, n)
    x[shift_from:] += 10.0  # five sigma
    return x


def test_a_long_history_is_charted_from_two_bounded_reads_with_the_whole_historys_limits(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    caller, part_id = _part(store)
    values = _shifted(np.random.default_rng(16), LONG, LONG - 100)
    records = _made(caller, part_id, values)
    _stored(store, caller, records)
    with store.session(caller) as s:
        set_spec(s, part_id, "x", 40.0, 60.0)
    with store.session(caller, read_only=True) as s:
        reads = _Reads(monkeypatch)
        (chart,) = parameter_charts(s, part_id)
    assert reads.records == limit_records() + CHART_RECORDS  # not 30,000
    assert sorted(name for name, _ in reads.calls) == ["own_newest", "own_oldest"]
    spec = {"x": ParameterSettings(lower_spec=40.0, upper_spec=60.0)}
    (whole,) = charts_of_records(records, settings=spec)  # unbounded, in memory
    # Cpk of what is charted, with σ within (and its degrees of freedom) from the baseline
    assert chart.capability is not None and whole.capability is not None
    assert chart.capability.n == CHART_RECORDS
    assert chart.capability.sigma_within == pytest.approx(whole.capability.sigma_within)
    assert "oldest records' baseline" in chart.capability.method
    assert whole.baseline == 50 and chart.limits_from == "oldest"
    assert chart.centre[0] == pytest.approx(whole.centre[0], rel=1e-12)
    assert chart.ucl[0] == pytest.approx(whole.ucl[0], rel=1e-12)
    assert chart.lcl[0] == pytest.approx(whole.lcl[0], rel=1e-12)
    assert chart.window == ChartWindow(CHART_RECORDS, LONG, limit_records(), 50)
    assert len(chart.values) == chart.records == CHART_RECORDS
    assert chart.values == whole.values[-CHART_RECORDS:]
    assert chart.times[0] == START + timedelta(seconds=LONG - CHART_RECORDS)
    assert any(f"newest {CHART_RECORDS} of the part's {LONG} records" in n for n in chart.notes)
    shift = START + timedelta(seconds=LONG - 100)
    beyond = [v for v in chart.violations if v.rule == "WE1"]
    shifted = [v for v in beyond if v.time >= shift]
    assert len(shifted) >= 95  # nearly every shifted point is beyond the limits
    assert len(beyond) - len(shifted) < 40  # ≈ 0.27 % false alarms among 4,900 in control
    assert chart.baseline == 0  # every charted point is phase II


def test_lots_of_a_long_history_take_their_limits_from_the_oldest_lots(store: Store) -> None:
    caller, part_id = _part(store)
    n = 8_000
    values = _shifted(np.random.default_rng(5), n, n - 50)
    records = _made(caller, part_id, values, lot=5)
    _stored(store, caller, records)
    with store.session(caller, read_only=True) as s:
        (chart,) = parameter_charts(s, part_id)
        view = process_view(s, part_id, None)
        full = s.process_records.own_between(None, None, part_id=part_id)
    (whole,) = charts_of_records(full)
    assert view["records"] == n and view["charted"] == CHART_RECORDS  # "newest N of M"
    assert view["charts"] == [chart_json(chart)]
    answered = dict(chart_json(chart))
    del answered["violations_by_rule"]
    assert answered == asdict(chart)  # the API's answer is the chart, field for field
    assert chart.kind == whole.kind == "xbar-r" and chart.subgrouping == "lot"
    assert chart.window == ChartWindow(CHART_RECORDS, n, limit_records(), 20)
    assert chart.centre[0] == pytest.approx(whole.centre[0], rel=1e-12)
    assert chart.ucl[-1] == pytest.approx(whole.ucl[-1], rel=1e-12)
    assert len(chart.values) == CHART_RECORDS // 5

    def beyond(c):  # type: ignore[no-untyped-def]
        return [v.time for v in c.violations if v.rule == "WE1" and v.time >= chart.times[0]]

    assert beyond(chart) == beyond(whole)  # same limits, same points beyond them
    shift = START + timedelta(seconds=n - 50)
    assert len([t for t in beyond(chart) if t >= shift]) == 10  # every shifted lot


def test_oldest_records_subgrouped_otherwise_give_no_limits_and_the_chart_says_so(
    store: Store,
) -> None:
    caller, part_id = _part(store)
    rng = np.random.default_rng(2)
    old = _made(caller, part_id, rng.normal(50, 2, 2_000))  # no lots at first
    new = _made(caller, part_id, rng.normal(50, 2, 5_000), lot=5, first=2_000)
    _stored(store, caller, old + new)
    with store.session(caller, read_only=True) as s:
        (chart,) = parameter_charts(s, part_id)
    assert chart.subgrouping == "lot" and chart.limits_from == "baseline"
    assert chart.baseline == 20 and chart.window == ChartWindow(CHART_RECORDS, 7_000, 0, 0)
    assert any("subgrouped by 'none', the newest by 'lot'" in n for n in chart.notes)


def test_below_the_window_the_charts_are_the_whole_historys(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    caller, part_id = _part(store)
    n = limit_records() + CHART_RECORDS  # the longest history still read whole
    records = _made(caller, part_id, _shifted(np.random.default_rng(9), n, n - 30), lot=4)
    _stored(store, caller, records)
    with store.session(caller, read_only=True) as s:
        reads = _Reads(monkeypatch)
        charts = parameter_charts(s, part_id)
        assert reads.calls == [("own_between", n)]
        full = s.process_records.own_between(None, None, part_id=part_id)
    expected = charts_of_records(full)
    assert [asdict(c) for c in charts] == [asdict(c) for c in expected]
    assert charts[0].window is None and charts[0].violations


def _run(rounds: CheckRounds) -> None:
    for _ in range(5):
        if rounds.run_due() == 0:
            return


def test_a_live_check_on_a_long_history_reads_a_bounded_window_and_raises_once(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    caller, part_id = _part(store)
    rng = np.random.default_rng(4)
    _stored(store, caller, _made(caller, part_id, rng.normal(50, 2, LONG)))
    rounds = CheckRounds(store)
    _run(rounds)  # the first run: the newest records only
    with store.session(caller) as s:
        assert [a for a in s.alerts.list_all() if a.rule.startswith("x: WE1")] == []
    _stored(store, caller, _made(caller, part_id, [50.0, 71.0, 50.5], first=LONG))  # 10 σ
    reads = _Reads(monkeypatch)
    _run(rounds)
    # the 3 new records to score, then the oldest records (limits), the rules' lookback
    # and the 3 new ones to chart: never the 30,000
    assert "own_between" not in {name for name, _ in reads.calls}
    assert reads.records == 3 + limit_records() + LOOKBACK_RECORDS + 3
    with store.session(caller) as s:
        (alert,) = [a for a in s.alerts.list_all() if a.rule.startswith("x: WE1")]
    assert alert.count == 1 and "71" in alert.message
    _stored(store, caller, _made(caller, part_id, [50.2, 49.8], first=LONG + 3))
    _run(rounds)
    with store.session(caller) as s:
        (again,) = [a for a in s.alerts.list_all() if a.rule.startswith("x: WE1")]
    assert again.count == 1  # later runs do not raise it again
