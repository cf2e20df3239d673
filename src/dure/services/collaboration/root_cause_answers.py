"""What a supplier tells an OEM about named lots: aggregates computed at home, nothing else.

For each lot the request names (serials are answered by the fixed group they belong to:
the whole lot they were made in, or, outside any lot, every part of theirs made outside
a lot that day, so no two requests can be differenced down to one part): how many parts
it holds, each
process parameter's mean shift in σ against the part's normal, the lot's
Cpk against the specification, the top causes from the supplier's process-quality model
(mean |SHAP| over the lot's records taken together) and the supplier's own inspection
outcome (counts ok / ng by defect type). A group of fewer than ``min_group`` parts is
refused whole: no answer describes fewer than k parts. No record id, per-part value or
serial leaves: the answer names lots by their codes and parameters by their names.

"Normal" is, in order of preference:
1. ``control_chart``: the parameter's control chart, the way the supplier's quality
   engineer sees it: its centre line and its σ within (from the chart's limits: Phase-I
   baseline or stored limits), unless the Phase-I baseline contains a lot that is asked
   about (a lot cannot be its own normal);
2. ``history``: the median and the MAD-scaled σ of the rest of the part's recent history
   (robust: a long drift in that history moves them far less than a mean and a standard
   deviation would);
3. ``spec``: the middle of the specification, σ = a sixth of its width.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np

from dure.domain.ids import utcnow
from dure.domain.records import ProcessRecord, is_defective
from dure.domain.root_cause import MIN_GROUP
from dure.domain.times import as_utc
from dure.errors import Forbidden, InvalidInput
from dure.models.spc.capability import capability
from dure.services.process.chart_windows import read_windows
from dure.services.process.control_charts import charts_of_windows, stored_settings
from dure.services.process.defect_causes import causes_over
from dure.services.traceability.shipments import shipped_elsewhere_only
from dure.store.session import Session

HISTORY = 5000  # how many of the part's newest records make its normal
TOP_CAUSES = 3


class GroupTooSmall(Forbidden):
    """A named lot (or group of serials) holds fewer parts than an answer may describe."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class _Group:
    label: str | None  # the lot code; None for serials made outside any lot
    part_id: str
    records: list[ProcessRecord]
    made_on: date | None = None  # outside any lot: the day the group's parts were made


def compute_answer(
    session: Session,
    lots: Sequence[str],
    serials: Sequence[str],
    defect_type: str | None = None,
    min_group: int = MIN_GROUP,
    part_ids: set[str] | None = None,
    oem_org_id: str | None = None,
) -> dict[str, Any]:
    """The aggregates about ``lots`` (codes) and ``serials`` of the caller's own parts
    (limited to ``part_ids`` when given: a grant for one part answers about that part
    only; and, asked by ``oem_org_id``, never about a lot we shipped to other OEMs only).
    Reads only. GroupTooSmall when any group holds fewer than ``min_group`` parts; within
    a group, a figure that rests on fewer than ``min_group`` parts (a parameter measured
    on few of them, the inspection of few of them) is withheld (None)."""
    if min_group < MIN_GROUP:
        raise InvalidInput("min_group", f"at least {MIN_GROUP} parts, got {min_group}")
    elsewhere = set() if oem_org_id is None else shipped_elsewhere_only(session, oem_org_id)
    groups, lots_not_found, serials_not_found = _groups(session, lots, serials, part_ids, elsewhere)
    for group in groups:
        if _parts(group.records) < min_group:
            what = f"lot {group.label}" if group.label else f"the parts made on {group.made_on}"
            raise GroupTooSmall(
                f"{what} holds fewer than {min_group} parts: an answer describes groups of "
                f"at least {min_group} parts, so that no single part's record can be rebuilt"
            )
    asked = {r.id for g in groups for r in g.records}
    normals: dict[str, list[ProcessRecord]] = {}
    charted: dict[str, dict[str, _Normal]] = {}
    specs: dict[str, Any] = {}
    parts: dict[str, str] = {}
    out = []
    for group in groups:
        pid = group.part_id
        if pid not in normals:
            history = session.process_records.own_newest(HISTORY, part_id=pid)
            normals[pid] = [r for r in history if r.id not in asked]
            charted[pid] = _chart_normals(session, pid, asked_from(groups, pid))
            specs[pid] = session.parameter_specs.of_part(pid)
            parts[pid] = session.parts.get(pid).number
        out.append(
            {
                "lot": group.label,
                "made_on": None if group.made_on is None else group.made_on.isoformat(),
                "part_number": parts[pid],
                "parts": _parts(group.records),
                "parameters": _parameters(
                    group.records, normals[pid], charted[pid], specs[pid], min_group
                ),
                "top_causes": _top_causes(session, group, defect_type, min_group),
                "inspection": _inspection(session, group, min_group),
            }
        )
    return {
        "min_group": min_group,
        "lots": out,
        "lots_not_found": lots_not_found,
        "serials_not_found": serials_not_found,
        "computed_at": utcnow().isoformat(),
    }


def check_growth(previous: Sequence[str], figures: dict[str, Any], min_group: int) -> None:
    """GroupTooSmall when a group of this answer holds a few parts more (or fewer) than
    when it was answered to the same OEM before (``previous``: those answers' JSON): two
    answers about a lot that grew by one part would give away that part's values."""
    seen: dict[tuple[Any, ...], set[int]] = {}
    for text in previous:
        try:
            doc = json.loads(text)
        except ValueError:
            continue
        for lot in doc.get("lots") or [] if isinstance(doc, dict) else []:
            if isinstance(lot, dict) and isinstance(lot.get("parts"), int):
                seen.setdefault(_label(lot), set()).add(lot["parts"])
    for lot in figures["lots"]:
        for before in sorted(seen.get(_label(lot), ())):
            change = abs(lot["parts"] - before)
            if 0 < change < min_group:
                what = f"lot {lot['lot']}" if lot["lot"] else f"the parts made on {lot['made_on']}"
                raise GroupTooSmall(
                    f"{what} changed by {change} part(s) since it was answered to you: an "
                    f"answer about a group that changed describes at least {min_group} more "
                    "parts, so that no single part's record can be rebuilt from two answers"
                )


def _label(lot: dict[str, Any]) -> tuple[Any, ...]:
    return (lot.get("part_number"), lot.get("lot"), lot.get("made_on"))


def _parts(records: Sequence[ProcessRecord]) -> int:
    return len({r.serial or r.id for r in records})


def _groups(
    session: Session,
    lots: Sequence[str],
    serials: Sequence[str],
    part_ids: set[str] | None,
    elsewhere: set[str],
) -> tuple[list[_Group], list[str], int]:
    groups: dict[str, _Group] = {}
    not_found = []
    for code in dict.fromkeys(lots):
        found = [
            lot
            for lot in session.lots.list_own(code=code)
            if (part_ids is None or lot.part_id in part_ids) and lot.code not in elsewhere
        ]
        if not found:
            not_found.append(code)
        for lot in found:
            groups.setdefault(lot.id, _Group(lot.code, lot.part_id, []))
    named = [
        r
        for r in session.process_records.own_by_serials(list(dict.fromkeys(serials)))
        if part_ids is None or r.part_id in part_ids
    ]
    loose: dict[tuple[str, date], _Group] = {}
    answered = []
    for record in named:
        if record.lot_id is None:
            day = record.recorded_at.astimezone(UTC).date()
            loose.setdefault((record.part_id, day), _Group(None, record.part_id, [], day))
        elif record.lot_id not in groups:
            lot = session.lots.own(record.lot_id, "lot_id")
            if lot.code in elsewhere:
                continue  # shipped to another OEM only: as if we did not know the serial
            groups[lot.id] = _Group(lot.code, lot.part_id, [])
        answered.append(record)
    for lot_id, group in groups.items():
        group.records = session.process_records.list_own(lot_id=lot_id)
    for (part_id, day), group in loose.items():
        start = datetime(day.year, day.month, day.day, tzinfo=UTC)
        group.records = session.process_records.own_between(
            start, start + timedelta(days=1), part_id=part_id, lot_id=None
        )
    serials_not_found = len(set(serials) - {r.serial for r in answered})
    return [*groups.values(), *loose.values()], not_found, serials_not_found


@dataclass(frozen=True)
class _Normal:
    centre: float
    sigma: float


def asked_from(groups: Sequence[_Group], part_id: str) -> datetime | None:
    """When the oldest asked record of the part was made (None when none is asked)."""
    times = [r.recorded_at for g in groups if g.part_id == part_id for r in g.records]
    return min(times) if times else None


def _chart_normals(
    session: Session, part_id: str, asked_from_: datetime | None
) -> dict[str, _Normal]:
    """Each parameter's centre line and σ of individual values from its control chart,
    unless the points its limits came from include an asked record."""
    windows = read_windows(session, part_id)
    limits_end = max(as_utc(r.recorded_at) for r in windows.limits) if windows.limits else None
    out = {}
    for chart in charts_of_windows(windows, settings=stored_settings(session, part_id)):
        if not chart.values or not chart.centre:
            continue
        if chart.limits_from == "baseline":
            if not 0 < chart.baseline <= len(chart.times):
                continue
            end: datetime | None = as_utc(chart.times[chart.baseline - 1])
        elif chart.limits_from == "oldest":
            end = limits_end
        else:  # stored limits: a person set them
            end = None
        if end is not None and (asked_from_ is None or as_utc(asked_from_) <= end):
            continue
        n = chart.subgroup_sizes[0] if chart.kind == "xbar-r" and chart.subgroup_sizes else 1
        sigma = (chart.ucl[0] - chart.centre[0]) / 3 * math.sqrt(n)
        if math.isfinite(sigma) and sigma > 0:
            out[chart.parameter] = _Normal(float(chart.centre[0]), float(sigma))
    return out


def _robust(values: np.ndarray) -> _Normal | None:
    """Median and 1.4826 × MAD (σ of normal data), None when the MAD is 0."""
    centre = float(np.median(values))
    sigma = 1.4826 * float(np.median(np.abs(values - centre)))
    return _Normal(centre, sigma) if sigma > 0 else None


def _column(records: Sequence[ProcessRecord], name: str) -> np.ndarray:
    values = np.array([r.values.get(name, np.nan) for r in records], dtype=float)
    return values[np.isfinite(values)]


def _parameters(
    records: list[ProcessRecord],
    normal: list[ProcessRecord],
    charted: dict[str, _Normal],
    specs: dict[str, Any],
    k: int,
) -> list[dict[str, Any]]:
    names = sorted({n for r in records for n in r.values})
    units = {n: u for r in records for n, u in r.units.items()}
    out = []
    for name in names:
        lot, base = _column(records, name), _column(normal, name)
        spec = specs.get(name)
        lower = spec.lower if spec is not None else None
        upper = spec.upper if spec is not None else None
        shift, source = None, None
        if len(lot) < k:  # measured on fewer than k parts: the figure would describe them
            lot = lot[:0]
        robust = _robust(base) if len(base) >= k else None
        if len(lot) and name in charted:
            ref = charted[name]
            shift, source = (lot.mean() - ref.centre) / ref.sigma, "control_chart"
        elif len(lot) and robust is not None:
            shift, source = (lot.mean() - robust.centre) / robust.sigma, "history"
        elif len(lot) and lower is not None and upper is not None:
            shift, source = (lot.mean() - (lower + upper) / 2) / ((upper - lower) / 6), "spec"
        cpk = None
        if (lower is not None or upper is not None) and len(lot) >= 2 and lot.std(ddof=1) > 0:
            cpk = round(capability(lot, lower, upper).cpk.value, 2)
        out.append(
            {
                "name": name,
                "unit": units.get(name),
                "shift_sigma": None if shift is None else round(float(shift), 2),
                "normal_from": source,
                "cpk": cpk,
            }
        )
    out.sort(key=lambda p: -abs(p["shift_sigma"] or 0.0))
    return out


def _top_causes(
    session: Session, group: _Group, defect_type: str | None, k: int
) -> list[dict[str, Any]]:
    names = {n for r in group.records for n in r.values}
    enough = {n for n in names if len(_column(group.records, n)) >= k}
    found = causes_over(session, group.part_id, group.records, defect_type) or []
    causes = [c for c in found if c.parameter in enough]
    if not causes:
        return []
    total = sum(c.contribution for c in causes) or 1.0
    return [
        {"parameter": c.parameter, "share": round(c.contribution / total, 2)}
        for c in causes[:TOP_CAUSES]
    ]


def _inspection(session: Session, group: _Group, k: int) -> dict[str, Any]:
    lot_ids = {r.lot_id for r in group.records if r.lot_id}
    serials = [r.serial for r in group.records if r.serial]
    rows = session.inspections.own_of_lots_or_serials(sorted(lot_ids), serials)
    types: dict[str, int] = {}
    ng = 0
    for row in rows:
        if is_defective(row.verdict, row.review_decision):
            ng += 1
            kind = row.defect_type or "unknown"
            types[kind] = types.get(kind, 0) + 1
    if len(rows) < k:  # the outcome of fewer than k inspected parts: withheld
        return {"inspected": len(rows), "ok": None, "ng": None, "defect_types": {}}
    return {
        "inspected": len(rows),
        "ok": len(rows) - ng,
        "ng": ng,
        "defect_types": dict(sorted(types.items())),
    }
