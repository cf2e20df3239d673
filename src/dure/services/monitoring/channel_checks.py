"""The live check of one sensor channel: control limits and an anomaly score learned
from its first readings, then every newer reading checked once, in time order.

What the watch keeps between runs (``LiveCheck.state``, JSON):
- ``centre``/``sigma``: the individuals chart of the baseline (sigma is the baseline's
  standard deviation, not the moving range: sensor data drift slowly within a day and the
  moving range would understate it);
- ``limit_z``: how many sigmas the limits sit out, from the target false-alarm rate;
- ``detector``: the anomaly detector's learned values and smoothing state;
- ``last_ts_us``: the newest reading checked. Readings stored later with an older time
  (late or out of order) are not checked: a watch never goes back in time, so a late
  reading cannot complete a pattern it was never part of;
- ``tail``: the last readings checked, for rules that look back over several points;
- ``over``: how many readings in a row the anomaly score has been over its threshold.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from statistics import NormalDist
from typing import Any

import numpy as np

from dure.domain.alerts import Alert, AlertKind
from dure.domain.live_checks import SPC_RULES, LiveCheck
from dure.domain.records import SensorReading
from dure.domain.times import iso_us
from dure.models.spc.charts import Chart
from dure.models.spc.rules import LOOKBACK, RULE_NAMES, RULES_BY_CODE
from dure.models.timeseries.anomaly import ChannelDetector
from dure.services.alerts.raising import raise_alert
from dure.services.monitoring.series import segments, usual_interval_us
from dure.store.session import Session

MAX_PER_RUN = 20_000  # readings per run; more waits for the next run
# readings out of range while the smoothed score stays over its threshold before the
# anomaly alarms (one spike's smoothed echo alone never does: WE1 reports the spike)
PERSISTENCE = 3
REMEMBERED = 200  # times of readings already alerted beyond the limits


@dataclass
class CheckOutcome:
    """What one run of a live check found: its new bookmark and the alerts it raised."""

    state: dict[str, Any]
    new_alerts: list[Alert] = field(default_factory=list)
    more: bool = False
    checked: int = 0


def limit_z(false_alarm_rate: float) -> float:
    """Sigmas out for two-sided limits that a normal reading crosses at this rate."""
    return NormalDist().inv_cdf(1 - false_alarm_rate / 2)


def tail_threshold(scores: np.ndarray, false_alarm_rate: float) -> float:
    """The score healthy data exceed at ``false_alarm_rate``: a baseline is short, so its
    tail is extended (normal approximation) rather than a quantile it cannot estimate."""
    return max(
        float(np.quantile(scores, 1 - false_alarm_rate)),
        float(scores.mean() + limit_z(2 * false_alarm_rate) * scores.std()),
    )


def learn(first: list[SensorReading], false_alarm_rate: float) -> dict[str, Any]:
    """The watch's starting state from the channel's baseline readings."""
    values = np.array([r.value for r in first], dtype=np.float64)
    ts = [r.ts_us for r in first]
    sigma = float(values.std(ddof=1)) or 1e-12
    detector = ChannelDetector(false_alarm_rate=false_alarm_rate).fit(values[:, None])
    scores = detector.score(values[:, None])
    threshold = tail_threshold(scores, false_alarm_rate)
    detector.forget_smoothing()
    learned = detector.learned()
    learned["threshold"] = threshold
    return {
        "centre": float(values.mean()),
        "sigma": sigma,
        "limit_z": limit_z(false_alarm_rate),
        "interval_us": usual_interval_us(ts),
        "detector": learned,
        "last_ts_us": ts[-1],
        "tail": [],
        "over": 0,
        "baseline_end_us": ts[-1],
    }


def check_channel(session: Session, check: LiveCheck) -> CheckOutcome:
    """Check the readings of one channel stored since the last run; raise an alert per
    broken rule (repeats are counted on the open alert)."""
    channel = session.channels.get(check.subject_id)
    asset = session.assets.get(channel.asset_id)
    state = dict(check.state)
    if "centre" not in state:
        first = session.readings.read(channel.id, None, None, check.baseline)
        if len(first) < check.baseline:
            return CheckOutcome({"learning": len(first), "needs": check.baseline})
        state = learn(first, check.false_alarm_rate)
    raised_late = _late_readings(session, check, state, channel.unit, asset.name, channel.name)
    new = session.readings.read(channel.id, int(state["last_ts_us"]) + 1, None, MAX_PER_RUN)
    if not new:
        return CheckOutcome(state, raised_late)
    tail = [(int(t), float(v)) for t, v in state["tail"]]
    ts = [t for t, _ in tail] + [r.ts_us for r in new]
    values = np.array([v for _, v in tail] + [r.value for r in new], dtype=np.float64)
    first_new = len(tail)
    link = f"/machines/{asset.id}?channel={channel.id}"
    where = f"{asset.name}/{channel.name}"
    raised: list[Alert] = list(raised_late)

    def alert(rule: str, message: str, severity: str, kind: AlertKind) -> None:
        found, is_new = raise_alert(session, kind, channel.id, rule, message, severity, link)
        if is_new:
            raised.append(found)

    centre, sigma, z = state["centre"], state["sigma"], state["limit_z"]
    spc_rules = [r for r in check.rules if r in SPC_RULES]
    cuts = segments(ts, int(state["interval_us"]))
    for start, end in cuts:
        n = end - start
        chart = Chart(
            "individual",
            values[start:end],
            np.full(n, centre),
            np.full(n, centre - z * sigma),
            np.full(n, centre + z * sigma),
        )
        for code in spc_rules:
            hits = [start + i for i in RULES_BY_CODE[code](chart) if start + i >= first_new]
            if hits:
                at = hits[-1]
                if code == "WE1":
                    _remember(state, [ts[i] for i in hits])
                alert(
                    RULE_NAMES[code],
                    f"{where}: {RULE_NAMES[code]} ({len(hits)} reading(s), last "
                    f"{values[at]:.4g} {channel.unit} at {iso_us(ts[at])}; limits "
                    f"{centre - z * sigma:.4g} .. {centre + z * sigma:.4g})",
                    "critical" if code == "WE1" else "warning",
                    AlertKind.SPC_RULE,
                )
    if "anomaly" in check.rules:
        limits = (centre - z * sigma, centre + z * sigma) if "WE1" in check.rules else None
        state["detector"], state["over"] = _anomaly(
            state, ts, values, first_new, cuts, where, channel.unit, alert, limits
        )
    keep = min(LOOKBACK, len(ts))
    last_cut = cuts[-1][0]
    state["tail"] = [
        [ts[i], float(values[i])] for i in range(max(len(ts) - keep, last_cut), len(ts))
    ]
    state["last_ts_us"] = ts[-1]
    return CheckOutcome(state, raised, more=len(new) == MAX_PER_RUN, checked=len(new))


def _remember(state: dict[str, Any], alerted_ts: list[int]) -> None:
    """Keep the times of the last readings alerted beyond the limits (a late run over
    readings already checked must not raise them again)."""
    state["alerted_ts"] = (list(state.get("alerted_ts", [])) + alerted_ts)[-REMEMBERED:]


def _late_readings(
    session: Session, check: LiveCheck, state: dict[str, Any], unit: str, asset: str, name: str
) -> list[Alert]:
    """Readings stored since the last run with a time the watch had already passed: each
    one beyond the limits still raises its alert (rules over runs of readings are not
    applied to them; a late reading cannot complete a pattern it was never part of)."""
    last = int(state["last_ts_us"])
    if check.late_from_us is None or check.late_from_us > last or "WE1" not in check.rules:
        return []
    readings = session.readings.read(check.subject_id, check.late_from_us, last + 1, MAX_PER_RUN)
    centre, sigma, z = state["centre"], state["sigma"], state["limit_z"]
    lower, upper = centre - z * sigma, centre + z * sigma
    known = set(state.get("alerted_ts", []))
    out = [r for r in readings if not lower <= r.value <= upper and r.ts_us not in known]
    if not out or out[-1].ts_us <= int(state.get("baseline_end_us", 0)):
        return []
    out = [r for r in out if r.ts_us > int(state.get("baseline_end_us", 0))]
    _remember(state, [r.ts_us for r in out])
    at = out[-1]
    rule = RULE_NAMES["WE1"]
    alert, is_new = raise_alert(
        session,
        AlertKind.SPC_RULE,
        check.subject_id,
        rule,
        f"{asset}/{name}: {rule} ({len(out)} late reading(s), last {at.value:.4g} {unit} at "
        f"{iso_us(at.ts_us)}; limits {lower:.4g} .. {upper:.4g})",
        "critical",
        f"/machines/{session.channels.get(check.subject_id).asset_id}?channel={check.subject_id}",
    )
    return [alert] if is_new else []


def _anomaly(
    state: dict[str, Any],
    ts: list[int],
    values: np.ndarray,
    first_new: int,
    cuts: list[tuple[int, int]],
    where: str,
    unit: str,
    alert: Any,
    skip: tuple[float, float] | None = None,
) -> tuple[dict[str, Any], int]:
    detector = ChannelDetector.from_learned(state["detector"])
    threshold = detector.threshold_.value
    over = int(state.get("over", 0))
    starts = {start for start, _ in cuts}
    worst: tuple[float, int] | None = None
    for i in range(first_new, len(ts)):
        if i in starts and i > 0:
            detector.forget_smoothing()
            over = 0
        if skip is not None and not skip[0] <= values[i] <= skip[1]:
            continue  # beyond the limits: WE1 reports it, and its echo is no anomaly
        score, _ = detector.update(np.array([values[i]]))
        raw = float(np.max(np.abs((values[i] - detector.center_) / detector.spread_)))
        if score <= threshold:
            over = 0
        elif raw > threshold:  # the reading itself is out too, not only the smoothed echo
            over += 1
        if over >= PERSISTENCE and (worst is None or score > worst[0]):
            worst = (score, i)
    if worst is not None:
        score, i = worst
        alert(
            "anomaly",
            f"{where}: out of its usual range ({values[i]:.4g} {unit} at {iso_us(ts[i])}; "
            f"anomaly score {score:.1f}, threshold {threshold:.1f}, {PERSISTENCE} readings "
            "out while the score stayed over it)",
            "warning",
            AlertKind.MACHINE_ANOMALY,
        )
    return detector.learned() | {"threshold": threshold}, over
