"""What the dashboard's Process page reads in one call: the caller's parts, one part's
per-parameter control charts with Cpk, its spec limits, defect root causes and setpoint
advice. Reads only."""

from __future__ import annotations

from dataclasses import asdict, fields
from typing import Any

from dure.domain.parts import ParameterSpec
from dure.errors import InvalidInput
from dure.services.process.chart_windows import read_windows
from dure.services.process.control_charts import (
    ParameterChart,
    ParameterSettings,
    charts_of_windows,
    part_parameters,
)
from dure.services.process.defect_causes import RECENT, defect_causes
from dure.store.session import Session


def chart_json(chart: ParameterChart) -> dict[str, Any]:
    """A chart as the API answers it (times as ISO text by the API's encoder): what
    ``asdict`` gives, without deep-copying thousands of points (the lists are shared)."""
    out: dict[str, Any] = {f.name: getattr(chart, f.name) for f in fields(chart)}
    out["violations"] = [asdict(v) for v in chart.violations]
    out["capability"] = None if chart.capability is None else asdict(chart.capability)
    out["window"] = None if chart.window is None else asdict(chart.window)
    out["violations_by_rule"] = {
        rule: [v.index for v in found] for rule, found in chart.violations_by_rule().items()
    }
    return out


def _settings(specs: dict[str, ParameterSpec]) -> dict[str, ParameterSettings]:
    return {n: ParameterSettings(lower_spec=s.lower, upper_spec=s.upper) for n, s in specs.items()}


def process_view(session: Session, part_id: str | None, parameter: str | None) -> dict[str, Any]:
    """The Process page: the parts to pick from and, for the chosen part (the first with
    process records when none is named), its charts, spec limits, causes and advice."""
    parts = session.parts.list_own()
    picker = [{"id": p.id, "number": p.number, "name": p.name} for p in parts]
    if part_id is None:
        with_records = set(session.process_records.own_parts())
        part_id = next((p.id for p in parts if p.id in with_records), None)
        if part_id is None:
            return {"parts": picker, "part": None}
    part = session.parts.get(part_id)
    # bounded reads however long the history: the whole of a short one; the oldest and
    # newest windows of a long one (see services/process/chart_windows.py)
    windows = read_windows(session, part_id)
    records = windows.charted  # oldest first: the newest of them feed the causes
    known = part_parameters([*records, *(windows.limits or [])])
    if parameter is not None and parameter not in known:
        raise InvalidInput(
            "parameter", f"{parameter!r} is not a parameter of part {part.number}'s records"
        )
    specs = session.parameter_specs.of_part(part_id)
    charts = charts_of_windows(
        windows, None if parameter is None else [parameter], settings=_settings(specs)
    )
    causes = defect_causes(session, part_id, records[-RECENT:], specs)
    return {
        "parts": picker,
        "part": {"id": part.id, "number": part.number, "name": part.name},
        "parameters": known,
        "records": windows.total,
        "charted": len(records),
        "specs": {n: {"lower": s.lower, "upper": s.upper} for n, s in specs.items()},
        "charts": [chart_json(c) for c in charts],
        "defects": None if causes is None else {**asdict(causes), "gain": causes.gain},
    }
