"""What the dashboard's overview and line pages show, computed from the caller's own records.

Days are the factory's days: the browser names its time zone (IANA, e.g. Asia/Seoul) and
"today" and the daily trend are cut at its midnights.
"""

from __future__ import annotations

import math
from collections import Counter
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import numpy as np

from dure.domain.records import InspectionRecord, is_defective
from dure.domain.times import as_utc
from dure.errors import InvalidInput
from dure.models.spc.charts import individuals
from dure.store.session import Session

TREND_DAYS = 14
MAX_DAYS = 366
MAX_RECENT = 200
CHART_POINTS = 200
BASELINE_POINTS = 50


@cache
def time_zone_names() -> tuple[str, ...]:
    """The IANA time zone names the dashboards take (the API's schema lists them)."""
    return tuple(sorted(available_timezones()))


def zone(name: str) -> ZoneInfo:
    """The time zone ``name``; InvalidInput naming the field when it is unknown."""
    if name not in time_zone_names():
        raise InvalidInput("tz", f"{name!r} is not a time zone name such as Asia/Seoul")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput("tz", f"{name!r} is not a time zone name such as Asia/Seoul") from None


def _midnight(now: datetime, tz: ZoneInfo) -> datetime:
    local = now.astimezone(tz)
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


def _day_figures(rows: list[InspectionRecord]) -> dict[str, Any]:
    first_pass: dict[str, bool] = {}
    defective = 0
    for row in rows:
        bad = is_defective(row.verdict, row.review_decision)
        defective += bad
        first_pass.setdefault(row.serial or row.id, not bad)
    n = len(rows)
    return {
        "inspected": n,
        "defective": defective,
        "defect_rate": round(defective / n, 5) if n else None,
        "first_pass_yield": round(sum(first_pass.values()) / len(first_pass), 5)
        if first_pass
        else None,
    }


def _trend(
    rows: list[InspectionRecord], start: datetime, tz: ZoneInfo, days: int
) -> list[dict[str, Any]]:
    by_day: dict[str, list[InspectionRecord]] = {}
    for row in rows:
        day = as_utc(row.taken_at).astimezone(tz).date().isoformat()
        by_day.setdefault(day, []).append(row)
    out = []
    for k in range(days):
        day = (start + timedelta(days=k)).date().isoformat()
        out.append({"day": day, **_day_figures(by_day.get(day, []))})
    return out


def _open_alerts_by_line(session: Session) -> dict[str | None, int]:
    """Open alerts counted under the line of the machine (or channel's machine) they name."""
    asset_line = {a.id: a.line_id for a in session.assets.list_own()}
    channel_line = {c.id: asset_line.get(c.asset_id) for c in session.channels.list_own()}
    counts: Counter[str | None] = Counter()
    for subject in session.alerts.open_subjects():
        counts[asset_line.get(subject) or channel_line.get(subject)] += 1
    return dict(counts)


def overview(session: Session, tz_name: str = "UTC", now: datetime | None = None) -> dict[str, Any]:
    """Per line: parts inspected today, first-pass yield, defect rate with its trend, alerts."""
    tz = zone(tz_name)
    now = now or datetime.now(UTC)
    today = _midnight(now, tz)
    start = today - timedelta(days=TREND_DAYS - 1)
    alerts = _open_alerts_by_line(session)
    lines = []
    for line in sorted(session.lines.list_all(), key=lambda x: x.name):
        if line.org_id != session.caller.org_id:
            continue
        rows = session.inspections.of_line(line.id, start)
        trend = _trend(rows, start, tz, TREND_DAYS)
        lines.append(
            {
                "line_id": line.id,
                "name": line.name,
                "today": trend[-1],
                "trend": trend,
                "open_alerts": alerts.get(line.id, 0),
            }
        )
    return {
        "day": today.date().isoformat(),
        "tz": tz_name,
        "lines": lines,
        "open_alerts_elsewhere": alerts.get(None, 0),
    }


def _control_chart(rows: list[InspectionRecord], thresholds: dict[str, float]) -> dict[str, Any]:
    """Score / threshold of the newest scored parts on an individuals chart.

    The limits come from the first ``BASELINE_POINTS`` of the window (phase I) and are
    held for the rest, so a shift shows against where the line started.
    """
    points = [
        (row, row.score / thresholds[row.model_version_id])
        for row in rows
        if row.score is not None and thresholds.get(row.model_version_id or "")
    ]
    points = [(row, v) for row, v in points if math.isfinite(v)][-CHART_POINTS:]
    if len(points) < 3:
        return {"points": [], "why": "fewer than three scored parts on this line"}
    ratios = np.asarray([p[1] for p in points])
    base = individuals(ratios[: max(BASELINE_POINTS, 2)])[0]
    centre, lower, upper = (float(base.centre[0]), float(base.lower[0]), float(base.upper[0]))
    return {
        "statistic": "score / threshold (1.0 is the model's threshold)",
        "centre": centre,
        "lower": max(lower, 0.0),
        "upper": upper,
        "baseline_points": min(BASELINE_POINTS, len(ratios)),
        "points": [
            {
                "id": row.id,
                "taken_at": as_utc(row.taken_at).isoformat(),
                "value": round(float(v), 4),
                "beyond": bool(v > upper or v < lower),
            }
            for row, v in points
        ],
    }


def line_view(
    session: Session, line_id: str, tz_name: str = "UTC", days: int = TREND_DAYS, recent: int = 30
) -> dict[str, Any]:
    """One line: newest inspections, the defect Pareto and the score control chart."""
    if not 1 <= days <= MAX_DAYS:
        raise InvalidInput("days", f"between 1 and {MAX_DAYS}")
    if not 1 <= recent <= MAX_RECENT:
        raise InvalidInput("recent", f"between 1 and {MAX_RECENT}")
    tz = zone(tz_name)
    line = session.lines.get(line_id)
    start = _midnight(datetime.now(UTC), tz) - timedelta(days=days - 1)
    rows = session.inspections.of_line(line.id, start)
    defects = Counter(
        row.defect_type or "unknown"
        for row in rows
        if is_defective(row.verdict, row.review_decision)
    )
    total = sum(defects.values())
    cumulative, pareto = 0, []
    for code, count in defects.most_common():
        cumulative += count
        pareto.append(
            {"defect_type": code, "count": count, "cumulative_share": round(cumulative / total, 4)}
        )
    thresholds: dict[str, float] = {}
    for version_id in {r.model_version_id for r in rows if r.model_version_id}:
        version = session.model_versions.get(version_id)
        value = (version.card.get("threshold") or {}).get("value")
        if isinstance(value, int | float) and value > 0:
            thresholds[version_id] = float(value)
    newest = list(reversed(rows[-recent:]))
    return {
        "line": {"id": line.id, "name": line.name},
        "days": days,
        "figures": _day_figures(rows),
        "recent": newest,
        "pareto": pareto,
        "control_chart": _control_chart(rows, thresholds),
    }
