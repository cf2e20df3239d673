"""Control charts of a part's process parameters: X̄-R by lot or I-MR, run rules, Cpk.

A pure read over a store session (nothing is written), so live checks can call it as
often as records arrive and raise alerts from ``ParameterChart.violations``.

How each chart is made:
- Records are sorted by time (then id): the order they were stored in does not matter,
  and gaps in time do not change a chart (points are consecutive samples).
- Subgroups: when most records carry a lot and the lots hold 2–25 records, each lot is a
  rational subgroup (X̄-R chart, point time = the lot's last record); with
  ``subgroup_size`` n, n consecutive records make a subgroup; otherwise each record is a
  point (I-MR chart). A record without a finite value of the parameter is skipped and
  counted in the chart's notes.
- Phase-I limits come from the first ``baseline`` points (σ within from R̄/d2 or MR̄/d2),
  unless ``ParameterSettings`` give stored limits (centre, LCL, UCL).
- Run rules (Western Electric by default, or Nelson) are evaluated over the whole series;
  only points after the baseline (and at or after ``since``) are reported, each with its
  index, time and value.
- Long histories (see ``chart_windows``): past a few thousand records the limits come
  from the first points of the oldest records and only the newest are charted with them,
  two bounded reads; ``ParameterChart.window`` and a note say so.
- Capability: Cp/Cpk against the configured specification limits (``ParameterSettings``;
  there is no default, since a plausible range is not a tolerance), with 95 % intervals by
  χ² and Bissell's approximation using the degrees of freedom of the σ-within estimate.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

import numpy as np

from dure.domain.records import ProcessRecord
from dure.domain.times import as_utc
from dure.errors import InvalidInput
from dure.models.spc import rules as run_rules
from dure.models.spc.capability import Index, capability
from dure.models.spc.charts import Chart
from dure.models.spc.constants import d2, d3, factors
from dure.services.process.chart_windows import (
    BASELINE_SUBGROUPS,
    MAX_LOT_SIZE,
    RecordWindows,
    read_windows,
)
from dure.store.session import Session

# Phase-I points when none are asked for: 20 subgroups, or 50 individual values (an MR̄
# from fewer moving ranges gives limits too noisy to trust on in-control data).
BASELINE_INDIVIDUALS = 50
MIN_POINTS = 5
LOT_SHARE = 0.8
# Relative efficiency of MR̄/d2 against s for σ of normal data (Cryer & Ryan 1990): the
# moving-range estimate of n values is worth about 0.62 (n − 1) degrees of freedom.
MR_EFFICIENCY = 0.62
KNOWN_SIGMA_DOF = 1e6  # σ implied by stored limits is taken as known
RULE_SETS: dict[str, dict[str, Callable[[Chart], list[int]]]] = {
    "western_electric": run_rules.WESTERN_ELECTRIC,
    "nelson": run_rules.NELSON,
}


@dataclass(frozen=True)
class ParameterSettings:
    """What a configuration may fix for one parameter: specification limits, stored
    control limits (all three together) and the rule set."""

    lower_spec: float | None = None
    upper_spec: float | None = None
    centre: float | None = None
    lcl: float | None = None
    ucl: float | None = None
    rules: str = "western_electric"


@dataclass(frozen=True)
class Violation:
    """One point that breaks one run rule."""

    rule: str  # short code, e.g. "WE1", "N3"
    name: str  # what the rule says, e.g. "one point beyond 3 sigma"
    index: int  # the point's index in the chart's series
    time: datetime
    value: float


@dataclass(frozen=True)
class Interval:
    """A capability index with its 95 % confidence interval."""

    value: float
    lower: float
    upper: float


@dataclass(frozen=True)
class ParameterCapability:
    """Cp/Cpk (σ within) and Ppk (σ overall) of the values against the spec limits."""

    cp: Interval | None
    cpk: Interval
    ppk: Interval
    n: int
    lower_spec: float | None
    upper_spec: float | None
    mean: float
    sigma_within: float
    method: str


@dataclass(frozen=True)
class ChartWindow:
    """A chart of a long history: the newest ``charted`` of the part's ``total`` records,
    with limits from the first ``limits_points`` points of its oldest ``limits_records``
    (both 0 when the limits came from the charted points or from settings)."""

    charted: int
    total: int
    limits_records: int
    limits_points: int


@dataclass(frozen=True)
class ParameterChart:
    """Everything a page or a live check needs about one parameter's control chart."""

    parameter: str
    unit: str | None
    kind: str  # "xbar-r" or "i-mr"
    subgrouping: str  # "lot", "consecutive" or "none"
    subgroup_sizes: list[int]
    times: list[datetime]  # one per point (a subgroup's last record)
    values: list[float]  # subgroup means or individual values
    centre: list[float]
    lcl: list[float]
    ucl: list[float]
    spread: list[float | None]  # ranges (X̄-R) or moving ranges (I-MR, first point has none)
    spread_centre: list[float]
    spread_ucl: list[float]
    baseline: int  # the first points the limits came from (0 with stored limits)
    limits_from: str  # "baseline", "oldest" (a long history's oldest records) or "settings"
    rule_set: str
    violations: list[Violation]
    capability: ParameterCapability | None
    records: int  # records with a value of this parameter (of those charted)
    notes: list[str] = field(default_factory=list)
    window: ChartWindow | None = None  # set when only the newest records are charted

    def violations_by_rule(self) -> dict[str, list[Violation]]:
        """The violations grouped by rule code."""
        out: dict[str, list[Violation]] = {}
        for v in self.violations:
            out.setdefault(v.rule, []).append(v)
        return out


def stored_settings(session: Session, part_id: str) -> dict[str, ParameterSettings]:
    """The part's stored specification limits as chart settings, by parameter."""
    return {
        name: ParameterSettings(lower_spec=spec.lower, upper_spec=spec.upper)
        for name, spec in session.parameter_specs.of_part(part_id).items()
    }


def part_parameters(records: Sequence[ProcessRecord]) -> list[str]:
    """The numeric parameters the records carry, sorted by name."""
    return sorted({k for r in records for k in r.values})


def parameter_charts(
    session: Session,
    part_id: str,
    parameters: Sequence[str] | None = None,
    *,
    baseline: int | None = None,
    since: datetime | None = None,
    settings: Mapping[str, ParameterSettings] | None = None,
    subgroup_size: int | None = None,
) -> list[ParameterChart]:
    """One control chart per numeric parameter of the caller's own records of the part.

    Reads only, and a bounded number of records however long the history
    (``chart_windows``); with ``since`` (a live check) only the records at or after it and
    the rules' lookback are charted. The part must be the caller's (NotFound otherwise); a
    named parameter the part's records do not carry is InvalidInput on ``parameter``.
    Without ``settings``, the part's stored specification limits are used
    (``stored_settings``).
    """
    session.parts.get(part_id)
    if settings is None:
        settings = stored_settings(session, part_id)
    windows = read_windows(session, part_id, since=since, baseline=baseline)
    return charts_of_windows(
        windows,
        parameters,
        baseline=baseline,
        since=since,
        settings=settings,
        subgroup_size=subgroup_size,
    )


def charts_of_windows(
    windows: RecordWindows,
    parameters: Sequence[str] | None = None,
    *,
    baseline: int | None = None,
    since: datetime | None = None,
    settings: Mapping[str, ParameterSettings] | None = None,
    subgroup_size: int | None = None,
) -> list[ParameterChart]:
    """The charts of what ``read_windows`` read: ``charts_of_records`` of the whole history
    when it was read whole; else the newest records charted with limits from the first
    points of the oldest (from the charted points, with a note, when the oldest records
    are subgrouped otherwise or hold too few points of the parameter)."""
    if windows.limits is None:
        return charts_of_records(
            windows.charted,
            parameters,
            baseline=baseline,
            since=since,
            settings=settings,
            subgroup_size=subgroup_size,
        )
    return _charts(
        windows.charted,
        parameters,
        baseline,
        since,
        settings,
        subgroup_size,
        oldest=windows.limits,
        total=windows.total,
    )


def charts_of_records(
    records: Sequence[ProcessRecord],
    parameters: Sequence[str] | None = None,
    *,
    baseline: int | None = None,
    since: datetime | None = None,
    settings: Mapping[str, ParameterSettings] | None = None,
    subgroup_size: int | None = None,
) -> list[ParameterChart]:
    """The charts of ``records`` (any order); see the module docstring for the method."""
    return _charts(records, parameters, baseline, since, settings, subgroup_size)


def _charts(
    records: Sequence[ProcessRecord],
    parameters: Sequence[str] | None,
    baseline: int | None,
    since: datetime | None,
    settings: Mapping[str, ParameterSettings] | None,
    subgroup_size: int | None,
    oldest: Sequence[ProcessRecord] | None = None,
    total: int = 0,
) -> list[ParameterChart]:
    if baseline is not None and baseline < 2:
        raise InvalidInput("baseline", f"needs at least 2 points to set limits, got {baseline}")
    if subgroup_size is not None and not 2 <= subgroup_size <= MAX_LOT_SIZE:
        raise InvalidInput("subgroup_size", f"must be between 2 and {MAX_LOT_SIZE}")
    known = part_parameters([*records, *(oldest or [])])
    chosen = list(parameters) if parameters is not None else known
    for name in chosen:
        if name not in known:
            raise InvalidInput(
                "parameter", f"{name!r} is not a parameter of this part's records ({known})"
            )
    settings = settings or {}
    for name, conf in settings.items():
        _check_settings(name, conf)
    ordered = _in_time_order(records)
    first = None if oldest is None else _in_time_order(oldest)
    return [
        _chart(
            ordered,
            name,
            baseline,
            None if since is None else as_utc(since),
            settings.get(name, ParameterSettings()),
            subgroup_size,
            None if first is None else _Window(first, total),
        )
        for name in chosen
    ]


def _in_time_order(records: Sequence[ProcessRecord]) -> list[ProcessRecord]:
    return sorted(records, key=lambda r: (as_utc(r.recorded_at), r.id))


def _check_settings(name: str, conf: ParameterSettings) -> None:
    where = f"settings.{name}"
    lo, hi = conf.lower_spec, conf.upper_spec
    if lo is not None and hi is not None and lo >= hi:
        raise InvalidInput(where, f"lower spec {lo} must be below upper spec {hi}")
    stored = (conf.centre, conf.lcl, conf.ucl)
    if any(v is not None for v in stored):
        if any(v is None for v in stored):
            raise InvalidInput(where, "stored limits need centre, lcl and ucl together")
        if not conf.lcl < conf.centre < conf.ucl:  # type: ignore[operator]
            raise InvalidInput(where, "stored limits must satisfy lcl < centre < ucl")
    if conf.rules not in RULE_SETS:
        raise InvalidInput(f"{where}.rules", f"{conf.rules!r} is not one of {sorted(RULE_SETS)}")


@dataclass
class _Points:
    groups: list[list[float]]
    times: list[datetime]
    subgrouping: str


def _finite(records: Sequence[ProcessRecord], name: str) -> tuple[list[ProcessRecord], int]:
    kept, skipped = [], 0
    for r in records:
        value = r.values.get(name)
        if value is None or not math.isfinite(float(value)):
            skipped += 1
        else:
            kept.append(r)
    return kept, skipped


def _group(kept: list[ProcessRecord], name: str, subgroup_size: int | None) -> _Points:
    if subgroup_size is not None:
        groups, times = [], []
        for start in range(0, len(kept) - subgroup_size + 1, subgroup_size):
            chunk = kept[start : start + subgroup_size]
            groups.append([float(r.values[name]) for r in chunk])
            times.append(as_utc(chunk[-1].recorded_at))
        return _Points(groups, times, "consecutive")
    with_lot = [r for r in kept if r.lot_id]
    if kept and len(with_lot) >= LOT_SHARE * len(kept):
        by_lot: dict[str, list[ProcessRecord]] = {}
        for r in with_lot:  # records are in time order, so lots are in order of first record
            by_lot.setdefault(r.lot_id, []).append(r)  # type: ignore[arg-type]
        sizes = sorted(len(v) for v in by_lot.values())
        typical = sizes[len(sizes) // 2]
        if 2 <= typical <= MAX_LOT_SIZE:
            lots = [v for v in by_lot.values() if 2 <= len(v) <= MAX_LOT_SIZE]
            return _Points(
                [[float(r.values[name]) for r in lot] for lot in lots],
                [as_utc(lot[-1].recorded_at) for lot in lots],
                "lot",
            )
    return _Points(
        [[float(r.values[name])] for r in kept], [as_utc(r.recorded_at) for r in kept], "none"
    )


@dataclass(frozen=True)
class _Window:
    oldest: list[ProcessRecord]  # in time order
    total: int


@dataclass(frozen=True)
class _Limits:
    centre: float
    sigma: float
    dof: float


def _statistics(points: _Points, kind: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Plotted values, their spread (ranges or moving ranges) and subgroup sizes."""
    sizes = np.array([len(g) for g in points.groups])
    if kind == "xbar-r":
        values = np.array([np.mean(g) for g in points.groups])
        spread = np.array([np.ptp(g) for g in points.groups])
    else:
        values = np.array([g[0] for g in points.groups])
        spread = np.r_[np.nan, np.abs(np.diff(values))]
    return values, spread, sizes


def _phase_one(points: _Points, kind: str, base: int) -> _Limits:
    """Centre, σ within and its degrees of freedom from the first ``base`` points."""
    values, spread, sizes = _statistics(_Points(points.groups[:base], [], ""), kind)
    if kind == "xbar-r":
        per_point = np.array([d2(int(n)) for n in sizes])
        sigma = float(np.mean(spread[:base] / per_point[:base])) if base else 0.0
        # Patnaik: R̄/d2 of one subgroup of n is worth d2²/(2·d3²) degrees of freedom
        dof = float(sum(d2(int(n)) ** 2 / (2 * d3(int(n)) ** 2) for n in sizes[:base]))
    else:
        sigma = float(np.mean(spread[1:base]) / d2(2)) if base else 0.0
        dof = MR_EFFICIENCY * (base - 1)
    return _Limits(float(np.mean(values[:base])) if base else 0.0, sigma, dof)


def _oldest_limits(
    window: _Window,
    name: str,
    subgroup_size: int | None,
    points: _Points,
    kind: str,
    baseline: int,
    charted: int,
    stored: bool,
) -> tuple[_Limits | None, ChartWindow, str]:
    """The Phase-I limits from the oldest records of a long history, the window the chart
    shows and the note that says so; no limits when they must come from elsewhere."""
    shown = f"the newest {charted} of the part's {window.total} records are charted"
    if stored:
        return None, ChartWindow(charted, window.total, 0, 0), shown
    old_kept, _ = _finite(window.oldest, name)
    old = _group(old_kept, name, subgroup_size)
    oldest = len(window.oldest)
    if old.subgrouping != points.subgrouping:
        why = (
            f"the oldest {oldest} records are subgrouped by {old.subgrouping!r}, the newest "
            f"by {points.subgrouping!r}"
        )
    elif len(old.groups) < baseline:
        why = f"the oldest {oldest} records hold only {len(old.groups)} points of {name}"
    else:
        return (
            _phase_one(old, kind, baseline),
            ChartWindow(charted, window.total, oldest, baseline),
            f"{shown}; limits from the first {baseline} points of the oldest {oldest} records",
        )
    return (
        None,
        ChartWindow(charted, window.total, 0, 0),
        f"{shown}; {why}: limits from the first charted points",
    )


def _chart(
    ordered: list[ProcessRecord],
    name: str,
    asked: int | None,
    since: datetime | None,
    conf: ParameterSettings,
    subgroup_size: int | None,
    long_history: _Window | None = None,
) -> ParameterChart:
    kept, skipped = _finite(ordered, name)
    notes = [f"{skipped} records have no finite {name} value and are left out"] if skipped else []
    unit = next((r.units.get(name) for r in reversed(kept) if r.units.get(name)), None)
    points = _group(kept, name, subgroup_size)
    if points.subgrouping == "lot":
        dropped = len(kept) - sum(len(g) for g in points.groups)
        if dropped:
            notes.append(
                f"{dropped} records without a lot, or in lots of 1 or over {MAX_LOT_SIZE}, "
                "are left out"
            )
    elif points.subgrouping == "consecutive" and len(kept) % (subgroup_size or 1):
        notes.append(f"the newest {len(kept) % (subgroup_size or 1)} records wait for a subgroup")
    m = len(points.groups)
    kind = "i-mr" if points.subgrouping == "none" else "xbar-r"
    stored = conf.centre is not None
    baseline = asked or (BASELINE_INDIVIDUALS if kind == "i-mr" else BASELINE_SUBGROUPS)
    given, window = None, None
    if long_history is not None:
        given, window, note = _oldest_limits(
            long_history, name, subgroup_size, points, kind, baseline, len(ordered), stored
        )
        notes.append(note)
    fixed = stored or given is not None  # limits from elsewhere: every point is phase II
    if m < (2 if fixed else MIN_POINTS):
        notes.append(f"{m} points: a chart needs at least {MIN_POINTS}")
        return _empty(name, unit, kind, points, len(kept), notes, conf, window)
    base = 0 if fixed else min(baseline, m)
    if not fixed and base < baseline:
        notes.append(f"only {m} points: limits from all of them (asked for {baseline})")
    values, spread, sizes = _statistics(points, kind)
    limits = given or _phase_one(points, kind, base)
    sigma, dof = limits.sigma, limits.dof
    if stored:
        dof = KNOWN_SIGMA_DOF
        centre_value = float(conf.centre)  # type: ignore[arg-type]
        half_up = np.full(m, float(conf.ucl) - centre_value)  # type: ignore[arg-type]
        half_down = np.full(m, centre_value - float(conf.lcl))  # type: ignore[arg-type]
        # σ of the plotted statistic from the stored limits (3σ each side)
        sigma = float((conf.ucl - conf.lcl) / 6) * (  # type: ignore[operator]
            float(np.sqrt(np.median(sizes))) if kind == "xbar-r" else 1.0
        )
    else:
        centre_value = limits.centre
        half_up = half_down = 3 * sigma / np.sqrt(sizes)
    centre = np.full(m, centre_value)
    chart = Chart("xbar" if kind == "xbar-r" else "individual", values, centre,
                  centre - half_down, centre + half_up)  # fmt: skip
    rule_set = RULE_SETS[conf.rules]
    found = run_rules.violations(chart, rule_set) if sigma > 0 else {}
    violations = []
    for full_name, hits in found.items():
        code, _, human = full_name.partition(" ")
        for i in hits:
            if i < base or (since is not None and points.times[i] < since):
                continue
            violations.append(Violation(code, human, i, points.times[i], float(values[i])))
    violations.sort(key=lambda v: (v.index, v.rule))
    spread_centre, spread_ucl = _spread_limits(kind, sizes, sigma, spread)
    all_values = np.array([v for g in points.groups for v in g])
    found_capability = _capability(all_values, conf, sigma, dof, kind)
    if found_capability is not None and given is not None:
        found_capability = replace(
            found_capability,
            method=found_capability.method.replace("baseline", "oldest records' baseline"),
        )
    return ParameterChart(
        parameter=name,
        unit=unit,
        kind=kind,
        subgrouping=points.subgrouping,
        subgroup_sizes=sizes.tolist(),
        times=points.times,
        values=values.tolist(),
        centre=centre.tolist(),
        lcl=chart.lower.tolist(),
        ucl=chart.upper.tolist(),
        spread=[None if math.isnan(x) else float(x) for x in spread],  # type: ignore[misc]
        spread_centre=spread_centre,
        spread_ucl=spread_ucl,
        baseline=base,
        limits_from="settings" if stored else "oldest" if given is not None else "baseline",
        rule_set=conf.rules,
        violations=violations,
        capability=found_capability,
        records=len(kept),
        notes=notes,
        window=window,
    )


def _spread_limits(
    kind: str, sizes: np.ndarray, sigma: float, spread: np.ndarray
) -> tuple[list[float], list[float]]:
    if kind == "xbar-r":
        centre = [d2(int(n)) * sigma for n in sizes]
        upper = [factors(int(n)).D4 * c for n, c in zip(sizes, centre, strict=True)]
        return centre, upper
    bar = d2(2) * sigma
    return [bar] * len(spread), [factors(2).D4 * bar] * len(spread)


def _capability(
    values: np.ndarray, conf: ParameterSettings, sigma: float, dof: float, kind: str
) -> ParameterCapability | None:
    if conf.lower_spec is None and conf.upper_spec is None:
        return None
    if len(values) < 2 or not sigma > 0 or float(np.std(values)) == 0:
        return None
    found = capability(values, conf.lower_spec, conf.upper_spec, sigma, sigma_dof=dof)
    method = (
        "σ within = R̄/d2 of the baseline lots"
        if kind == "xbar-r"
        else "σ within = MR̄/d2 of the baseline points"
    )
    return ParameterCapability(
        cp=_interval(found.cp) if found.cp else None,
        cpk=_interval(found.cpk),
        ppk=_interval(found.ppk),
        n=found.n,
        lower_spec=conf.lower_spec,
        upper_spec=conf.upper_spec,
        mean=found.mean,
        sigma_within=found.sigma_within,
        method=method + "; 95 % intervals: χ² (Cp), Bissell (Cpk, Ppk)",
    )


def _interval(index: Index) -> Interval:
    return Interval(float(index.value), float(index.lower), float(index.upper))


def _empty(
    name: str,
    unit: str | None,
    kind: str,
    points: _Points,
    records: int,
    notes: list[str],
    conf: ParameterSettings,
    window: ChartWindow | None = None,
) -> ParameterChart:
    values = [float(np.mean(g)) for g in points.groups]
    return ParameterChart(
        parameter=name,
        unit=unit,
        kind=kind,
        subgrouping=points.subgrouping,
        subgroup_sizes=[len(g) for g in points.groups],
        times=points.times,
        values=values,
        centre=[],
        lcl=[],
        ucl=[],
        spread=[],
        spread_centre=[],
        spread_ucl=[],
        baseline=0,
        limits_from="baseline",
        rule_set=conf.rules,
        violations=[],
        capability=None,
        records=records,
        notes=notes,
        window=window,
    )


def rule_counts(chart: ParameterChart) -> Counter[str]:
    """How many points break each rule (by code)."""
    return Counter(v.rule for v in chart.violations)
