"""Alerts as use cases: raise (de-duplicated), check a sensor channel against SPC rules,
and send new alerts to the organisation's webhooks and MQTT topics.

Sending happens after the alert is committed, so a slow or broken receiver never loses
or blocks an alert; the result of each delivery is kept on the alert.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import numpy as np

from dure.domain.alerts import Alert, AlertKind, AlertTarget
from dure.domain.times import iso_us
from dure.domain.users import Caller
from dure.errors import InvalidInput
from dure.models.spc.charts import Chart, individuals
from dure.models.spc.rules import violations
from dure.store.session import Session, Store

MIN_BASELINE = 20


def add_target(session: Session, kind: str, address: str) -> AlertTarget:
    """Send new alerts to a webhook (``https://…``) or an MQTT topic (``mqtt://host:port/topic``)."""
    parts = urlsplit(address)
    if kind == "webhook" and parts.scheme not in ("http", "https"):
        raise InvalidInput("address", "a webhook address starts with http:// or https://")
    if kind == "mqtt" and (parts.scheme != "mqtt" or not parts.hostname or len(parts.path) < 2):
        raise InvalidInput("address", "write the MQTT target as mqtt://host:port/topic/path")
    if kind not in ("webhook", "mqtt"):
        raise InvalidInput("kind", f"{kind!r}: use webhook or mqtt")
    return session.alert_targets.add(
        AlertTarget(org_id=session.caller.org_id, kind=kind, address=address)
    )


def raise_alert(
    session: Session,
    kind: AlertKind,
    subject_id: str,
    rule: str,
    message: str,
    severity: str = "warning",
) -> tuple[Alert, bool]:
    """Store an alert, or count a repeat of the same open problem; True when new."""
    alert = Alert(
        org_id=session.caller.org_id,
        kind=kind,
        subject_id=subject_id,
        rule=rule,
        message=message,
        severity=severity,
    )
    return session.alerts.raise_or_count(alert)


@dataclass(frozen=True)
class SpcCheck:
    """What an SPC check of a channel found."""

    channel_id: str
    points: int
    centre: float
    lower: float
    upper: float
    violations: dict[str, list[int]]
    alerts: list[Alert]
    new_alerts: list[Alert]


def check_channel_spc(
    store: Store, caller: Caller, channel_id: str, baseline: int = 100, recent: int = 100
) -> SpcCheck:
    """Individuals chart of a channel: limits from its first ``baseline`` readings (phase
    I), Western Electric rules on the newest ``recent`` (phase II); each broken rule
    raises an alert, then new alerts are sent."""
    with store.session(caller) as session:
        channel = session.channels.get(channel_id)
        first = session.readings.read(channel_id, None, None, baseline)
        if len(first) < MIN_BASELINE:
            raise InvalidInput(
                "channel_id",
                f"{channel.name!r} has {len(first)} readings; SPC needs {MIN_BASELINE}",
            )
        latest = session.readings.latest(channel_id, recent)
        chart_i, _ = individuals(np.array([r.value for r in first]))
        centre, lower, upper = chart_i.centre[0], chart_i.lower[0], chart_i.upper[0]
        values = np.array([r.value for r in latest])
        n = len(values)
        chart = Chart(
            "individual", values, np.full(n, centre), np.full(n, lower), np.full(n, upper)
        )
        found = violations(chart)
        raised, new = [], []
        for rule, hits in found.items():
            at = latest[hits[-1]]
            message = (
                f"{channel.name}: {rule} (value {at.value:.4g} at {iso_us(at.ts_us)}; "
                f"limits {lower:.4g} .. {upper:.4g}, centre {centre:.4g})"
            )
            alert, is_new = raise_alert(
                session,
                AlertKind.SPC_RULE,
                channel_id,
                rule,
                message,
                "critical" if rule.startswith("WE1") else "warning",
            )
            raised.append(alert)
            if is_new:
                new.append(alert)
    deliver(store, caller, new)
    return SpcCheck(channel_id, n, centre, lower, upper, found, raised, new)


def deliver(store: Store, caller: Caller, alerts: list[Alert], timeout_s: float = 5.0) -> None:
    """Send each alert to every target of its organisation; record the outcome on it."""
    if not alerts:
        return
    with store.session(caller) as session:
        targets = session.alert_targets.all()
    if not targets:
        return
    results: dict[str, dict[str, Any]] = {}
    for alert in alerts:
        body = json.dumps(_payload(alert)).encode()
        results[alert.id] = {t.id: _send(t, body, timeout_s) for t in targets}
    with store.session(caller) as session:
        for alert_id, outcome in results.items():
            session.alerts.record_delivery(alert_id, outcome)


def _payload(alert: Alert) -> dict[str, Any]:
    return {
        "id": alert.id,
        "kind": alert.kind.value,
        "subject_id": alert.subject_id,
        "rule": alert.rule,
        "message": alert.message,
        "severity": alert.severity,
        "first_at": alert.first_at.isoformat(),
    }


def _send(target: AlertTarget, body: bytes, timeout_s: float) -> str:
    try:
        if target.kind == "webhook":
            request = urllib.request.Request(
                target.address, data=body, headers={"Content-Type": "application/json"}
            )
            with urllib.request.urlopen(request, timeout=timeout_s) as response:  # noqa: S310
                return f"sent: HTTP {response.status}"
        from paho.mqtt import publish

        parts = urlsplit(target.address)
        publish.single(
            parts.path.lstrip("/"),
            body,
            qos=1,
            hostname=parts.hostname or "",
            port=parts.port or 1883,
            keepalive=10,
        )
        return "sent: MQTT"
    except (OSError, urllib.error.URLError, ValueError) as exc:
        return f"failed: {exc}"


@dataclass(frozen=True)
class AnomalyCheck:
    """What an anomaly check of a machine found."""

    asset_id: str
    channels: list[str]
    samples: int
    alarms: int
    alerts: list[Alert]
    new_alerts: list[Alert]


def check_asset_anomalies(
    store: Store,
    caller: Caller,
    asset_id: str,
    baseline: int = 500,
    recent: int = 200,
    false_alarm_rate: float = 0.001,
) -> AnomalyCheck:
    """Learn a machine's normal from the first ``baseline`` readings of its channels, then
    score the newest ``recent``: a channel out of its range (per-channel detector) or
    channels out of their usual relation (cross-channel detector) raise an alert naming
    the channel or the relation."""
    from dure.models.timeseries.anomaly import ChannelDetector, CrossChannelDetector

    with store.session(caller) as session:
        asset = session.assets.get(asset_id)
        channels = session.channels.list(asset_id=asset_id, org_id=caller.org_id).items
        if not channels:
            raise InvalidInput("asset_id", f"{asset.name!r} has no sensor channels")
        first = [session.readings.read(c.id, None, None, baseline) for c in channels]
        latest = [session.readings.latest(c.id, recent) for c in channels]
        normal, names = _aligned(first, [c.name for c in channels])
        if len(normal) < MIN_BASELINE:
            raise InvalidInput(
                "asset_id",
                f"{asset.name!r} has {len(normal)} aligned readings; needs {MIN_BASELINE}",
            )
        current, _ = _aligned(latest, [c.name for c in channels])
        per_channel = ChannelDetector(false_alarm_rate=false_alarm_rate).fit(normal)
        scores = per_channel.channel_scores(current)
        limit = per_channel.threshold_.value
        alarms = scores.max(axis=1) > limit
        raised, new = [], []
        for k in np.flatnonzero((scores > limit).any(axis=0)):
            worst = float(scores[:, k].max())
            alert, is_new = raise_alert(
                session,
                AlertKind.MACHINE_ANOMALY,
                asset_id,
                f"channel {names[k]} out of range",
                f"{asset.name}/{names[k]}: {int((scores[:, k] > limit).sum())} of "
                f"{len(current)} recent readings beyond normal (score {worst:.1f}, "
                f"threshold {limit:.1f})",
            )
            raised.append(alert)
            new.extend([alert] if is_new else [])
        if len(names) >= 2:
            cross = CrossChannelDetector(false_alarm_rate=false_alarm_rate).fit(normal)
            broken = cross.predict(current)
            alarms |= broken
            if broken.any():
                alert, is_new = raise_alert(
                    session,
                    AlertKind.MACHINE_ANOMALY,
                    asset_id,
                    "channels out of their usual relation",
                    f"{asset.name}: {int(broken.sum())} of {len(current)} recent readings break"
                    f" the usual relation between {', '.join(names)}",
                )
                raised.append(alert)
                new.extend([alert] if is_new else [])
    deliver(store, caller, new)
    return AnomalyCheck(asset_id, names, len(current), int(alarms.sum()), raised, new)


def _aligned(series: list[list[Any]], names: list[str]) -> tuple[np.ndarray, list[str]]:
    """Readings of several channels at the times all of them have a value."""
    by_time = [{r.ts_us: r.value for r in s} for s in series]
    common = sorted(set.intersection(*(set(d) for d in by_time))) if by_time else []
    return np.array([[d[t] for d in by_time] for t in common]).reshape(
        len(common), len(names)
    ), names
