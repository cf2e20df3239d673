"""The scheduled check across a machine's channels: readings that break the channels'
usual relation (each channel may still be in its own range), learned from the first
aligned readings with a cross-channel detector (PCA residual, Q statistic)."""

from __future__ import annotations

import numpy as np

from dure.domain.alerts import AlertKind
from dure.domain.live_checks import LiveCheck
from dure.domain.records import SensorReading
from dure.domain.times import iso_us
from dure.models.timeseries.anomaly import CrossChannelDetector
from dure.services.alerts.raising import raise_alert
from dure.services.monitoring.channel_checks import (
    MAX_PER_RUN,
    PERSISTENCE,
    CheckOutcome,
    tail_threshold,
)
from dure.services.monitoring.series import segments, usual_interval_us
from dure.store.session import Session


def aligned(series: list[list[SensorReading]], interval_us: int) -> tuple[np.ndarray, np.ndarray]:
    """Readings of several channels side by side: one row per time slot of
    ``interval_us`` that every channel has a reading in (its last one there)."""
    slots = []
    for readings in series:
        slots.append({r.ts_us // interval_us: r.value for r in readings})
    common = sorted(set.intersection(*(set(s) for s in slots))) if slots else []
    X = np.array([[s[k] for s in slots] for k in common], dtype=np.float64)
    return np.array(common, dtype=np.int64) * interval_us, X.reshape(len(common), len(slots))


def check_asset(session: Session, check: LiveCheck) -> CheckOutcome:
    """Score a machine's readings since the last run against its channels' usual relation."""
    asset = session.assets.get(check.subject_id)
    channels = session.channels.list_own(asset_id=asset.id)
    if len(channels) < 2:
        return CheckOutcome({"skipped": "a cross-channel check needs two or more channels"})
    names = [c.name for c in channels]
    state = dict(check.state)
    if state.get("channels") != [c.id for c in channels]:
        first = [session.readings.read(c.id, None, None, check.baseline) for c in channels]
        interval = max(usual_interval_us([r.ts_us for r in s]) for s in first)
        ts, X = aligned(first, interval)
        if len(X) < max(check.baseline // 2, 20):
            return CheckOutcome({"learning": len(X), "needs": check.baseline // 2})
        detector = CrossChannelDetector(false_alarm_rate=check.false_alarm_rate).fit(X)
        scores = detector.score(X)
        threshold = tail_threshold(scores, check.false_alarm_rate)
        state = {
            "channels": [c.id for c in channels],
            "mean": detector.mean_.tolist(),
            "scale": detector.scale_.tolist(),
            "components": detector.components_.tolist(),
            "threshold": threshold,
            "interval_us": interval,
            "last_ts_us": int(ts[-1]),
            "over": 0,
        }
    interval = int(state["interval_us"])
    start = (int(state["last_ts_us"]) // interval + 1) * interval
    new = [session.readings.read(c.id, start, None, MAX_PER_RUN) for c in channels]
    ts, X = aligned(new, interval)
    if len(X) == 0:
        return CheckOutcome(state)
    detector = CrossChannelDetector()
    detector.mean_ = np.asarray(state["mean"])
    detector.scale_ = np.asarray(state["scale"])
    detector.components_ = np.asarray(state["components"])
    scores = detector.score(X)
    over, worst = int(state["over"]), None
    cut_starts = {a for a, _ in segments(ts.tolist(), interval)}
    for i, score in enumerate(scores):
        if i in cut_starts and i > 0:
            over = 0
        over = over + 1 if score > state["threshold"] else 0
        if over >= PERSISTENCE and (worst is None or score > worst[0]):
            worst = (float(score), i)
    new_alerts = []
    if worst is not None:
        score, i = worst
        alert, is_new = raise_alert(
            session,
            AlertKind.MACHINE_ANOMALY,
            asset.id,
            "channels out of their usual relation",
            f"{asset.name}: {', '.join(names)} out of their usual relation at "
            f"{iso_us(int(ts[i]))} (score {score:.1f}, threshold {state['threshold']:.1f})",
            "warning",
            f"/machines/{asset.id}",
        )
        new_alerts += [alert] if is_new else []
    state.update(last_ts_us=int(ts[-1]), over=over)
    return CheckOutcome(state, new_alerts, more=any(len(s) == MAX_PER_RUN for s in new))
