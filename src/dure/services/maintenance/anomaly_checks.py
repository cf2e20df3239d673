"""A machine's health: its channels learn normal from their first readings, the newest are
scored per channel and across channels, and what is out of the usual raises an alert."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from dure.collab.outbound import OutboundPolicy
from dure.domain.alerts import Alert, AlertKind
from dure.domain.users import Caller
from dure.errors import StateConflict
from dure.models.timeseries.anomaly import ChannelDetector, CrossChannelDetector
from dure.services.alerts.delivery import STRICT, deliver
from dure.services.alerts.raising import raise_alert
from dure.services.maintenance.spc_checks import MIN_BASELINE
from dure.store.session import Store


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
    *,
    outbound: OutboundPolicy = STRICT,
) -> AnomalyCheck:
    """Learn a machine's normal from the first ``baseline`` readings of its channels, then
    score the newest ``recent``: a channel out of its range (per-channel detector) or
    channels out of their usual relation (cross-channel detector) raise an alert naming
    the channel or the relation."""
    with store.session(caller) as session:
        asset = session.assets.get(asset_id)
        channels = session.channels.list(asset_id=asset_id, org_id=caller.org_id).items
        if not channels:
            raise StateConflict("asset_id", f"{asset.name!r} has no sensor channels")
        first = [session.readings.read(c.id, None, None, baseline) for c in channels]
        latest = [session.readings.latest(c.id, recent) for c in channels]
        normal, names = _aligned(first, [c.name for c in channels])
        if len(normal) < MIN_BASELINE:
            raise StateConflict(
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
    deliver(store, caller, new, outbound)
    return AnomalyCheck(asset_id, names, len(current), int(alarms.sum()), raised, new)


def _aligned(series: list[list[Any]], names: list[str]) -> tuple[np.ndarray, list[str]]:
    """Readings of several channels at the times all of them have a value."""
    by_time = [{r.ts_us: r.value for r in s} for s in series]
    common = sorted(set.intersection(*(set(d) for d in by_time))) if by_time else []
    return np.array([[d[t] for d in by_time] for t in common]).reshape(
        len(common), len(names)
    ), names
