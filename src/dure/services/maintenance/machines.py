"""What the Machines page shows: every machine with its health and RUL, and one machine's
channel trends with their normal band, anomaly marks, health index and alert history."""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np

from dure.domain.alerts import Alert, AlertStatus
from dure.domain.plant import Asset
from dure.errors import InvalidInput, StateConflict
from dure.models.timeseries.anomaly import ChannelDetector
from dure.services.maintenance.health import (
    CHART_POINTS,
    DEFAULT_BASELINE,
    AssetHealth,
    LearningNormal,
    asset_health,
    iso,
    rul_figure,
)
from dure.store.session import Session

MAX_POINTS = 2000
ALERT_HISTORY = 50


def _open_alerts_by_asset(session: Session) -> Counter[str]:
    """Alerts not closed, counted under the machine they (or their channel) name."""
    channel_asset = {c.id: c.asset_id for c in session.channels.list_own()}
    counts: Counter[str] = Counter()
    for subject in session.alerts.open_subjects():
        counts[channel_asset.get(subject, subject)] += 1
    return counts


def _machine_row(session: Session, asset: Asset, open_alerts: int) -> dict[str, Any]:
    row: dict[str, Any] = {
        "asset_id": asset.id,
        "name": asset.name,
        "kind": asset.kind,
        "line_id": asset.line_id,
        "open_alerts": open_alerts,
    }
    try:
        health = asset_health(session, asset.id)
    except StateConflict as exc:  # no channels, or too few readings to learn normal from
        return {
            **row,
            "health_percent": None,
            "status": "no data",
            "rul": None,
            "drivers": [],
            "as_of": None,
            "problem": exc.detail,
            "rul_source": None,
            "rul_model": None,
        }
    return {
        **row,
        "health_percent": round(health.health, 1),
        "status": health.life.status,
        "rul": rul_figure(health.life),
        "drivers": health.drivers[:3],
        "as_of": iso(int(health.readings.ts_us[-1])),
        "problem": None,
        "rul_source": health.model_used["rul_source"],
        "rul_model": _model_line(health),
    }


def _model_line(health: AssetHealth) -> dict[str, Any] | None:
    """Which trained model gave the RUL (None: the degradation index did)."""
    trained = health.model_used.get("rul_model")
    if not trained:
        return None
    keep = ("model_id", "name", "version", "histories", "trained_at")
    return {k: trained.get(k) for k in keep}


def machines_view(session: Session) -> dict[str, Any]:
    """The caller's machines, least healthy first (machines without data last)."""
    counts = _open_alerts_by_asset(session)
    rows = [_machine_row(session, a, counts.get(a.id, 0)) for a in session.assets.list_own()]
    rows.sort(key=lambda r: (r["health_percent"] is None, r["health_percent"] or 0, r["name"]))
    return {"machines": rows}


def _buckets(n: int, points: int) -> np.ndarray:
    """Start index of each of at most ``points`` consecutive buckets of ``n`` samples."""
    return np.unique(np.linspace(0, n, min(points, n) + 1).astype(int)[:-1])


def _channel_trends(health: AssetHealth, points: int) -> list[dict[str, Any]]:
    data = health.readings
    detector = ChannelDetector().fit(data.values[: health.baseline])
    scores = detector.channel_scores(data.values)
    alarms = scores > detector.threshold_.value
    starts = _buckets(len(data.ts_us), points)
    sizes = np.diff(np.append(starts, len(data.ts_us)))
    middle = starts + sizes // 2
    low, high = health.model.normal_band()
    out = []
    for k, channel in enumerate(data.channels):
        means = np.add.reduceat(data.values[:, k], starts) / sizes
        flagged = np.add.reduceat(alarms[:, k].astype(int), starts) > 0
        marks = []
        for b in np.flatnonzero(flagged):
            span = slice(starts[b], starts[b] + sizes[b])
            at = starts[b] + int(np.argmax(np.where(alarms[span, k], scores[span, k], -np.inf)))
            marks.append([iso(int(data.ts_us[at])), float(data.values[at, k])])
        out.append(
            {
                "channel_id": channel.id,
                "name": channel.name,
                "unit": channel.unit,
                "band": {"low": float(low[k]), "high": float(high[k])},
                "points": [
                    [iso(int(data.ts_us[m])), round(float(v), 5)]
                    for m, v in zip(middle, means, strict=True)
                ],
                "marks": marks,
                "anomalies": int(alarms[:, k].sum()),
            }
        )
    return out


def _alert_history(session: Session, subjects: list[str]) -> list[Alert]:
    alerts: list[Alert] = []
    for subject in subjects:
        alerts.extend(session.alerts.list_own(subject_id=subject))
    alerts.sort(key=lambda a: a.last_at, reverse=True)
    return alerts[:ALERT_HISTORY]


def machine_view(
    session: Session, asset_id: str, points: int = CHART_POINTS, baseline: int = DEFAULT_BASELINE
) -> dict[str, Any]:
    """One machine: health and RUL, each channel's trend (bucket means) with its learned
    normal band and marks where the per-channel anomaly detector alarms, the health index
    against its failure level, and the machine's alerts (its own and its channels').
    While the machine learns normal after a repair, ``health`` is None, ``channels`` empty
    and ``problem`` says how far it got; its events and alerts still show."""
    if not 10 <= points <= MAX_POINTS:
        raise InvalidInput("points", f"must be between 10 and {MAX_POINTS}, got {points}")
    health: AssetHealth | None = None
    problem = None
    try:
        health = asset_health(session, asset_id, baseline=baseline)
        asset, channels = health.asset, health.readings.channels
    except LearningNormal as exc:  # just repaired: the events and alerts still show
        asset = session.assets.get(asset_id)
        channels = session.channels.list_own(asset_id=asset.id)
        problem = exc.detail
    alerts = _alert_history(session, [asset_id, *(c.id for c in channels)])
    names = {c.id: c.name for c in channels}
    return {
        "asset": {
            "id": asset.id,
            "name": asset.name,
            "kind": asset.kind,
            "line_id": asset.line_id,
        },
        "health": None if health is None else health.summary(points),
        "problem": problem,
        "maintenance_events": [
            {
                "id": e.id,
                "kind": e.kind.value,
                "occurred_at": e.occurred_at.isoformat(),
                "note": e.note,
            }
            for e in reversed(session.maintenance_events.of_asset(asset.id))
        ],
        "channels": [] if health is None else _channel_trends(health, points),
        "alerts": [
            {
                "id": a.id,
                "kind": a.kind.value,
                "rule": a.rule,
                "message": a.message,
                "severity": a.severity,
                "status": a.status.value,
                "open": a.status is not AlertStatus.CLOSED,
                "count": a.count,
                "first_at": a.first_at.isoformat(),
                "last_at": a.last_at.isoformat(),
                "channel": names.get(a.subject_id),
            }
            for a in alerts
        ],
    }
