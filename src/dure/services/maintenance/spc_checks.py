"""SPC of a sensor channel: limits from its first readings, run rules on its newest."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dure.collab.outbound import OutboundPolicy
from dure.domain.alerts import Alert, AlertKind
from dure.domain.times import iso_us
from dure.domain.users import Caller
from dure.errors import StateConflict
from dure.models.spc.charts import Chart, individuals
from dure.models.spc.rules import violations
from dure.services.alerts.delivery import STRICT, deliver
from dure.services.alerts.raising import raise_alert
from dure.store.session import Store

MIN_BASELINE = 20


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
    store: Store,
    caller: Caller,
    channel_id: str,
    baseline: int = 100,
    recent: int = 100,
    *,
    outbound: OutboundPolicy = STRICT,
) -> SpcCheck:
    """Individuals chart of a channel: limits from its first ``baseline`` readings (phase
    I), Western Electric rules on the newest ``recent`` (phase II); each broken rule
    raises an alert, then new alerts are sent."""
    with store.session(caller) as session:
        channel = session.channels.get(channel_id)
        first = session.readings.read(channel_id, None, None, baseline)
        if len(first) < MIN_BASELINE:
            raise StateConflict(
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
    deliver(store, caller, new, outbound)
    return SpcCheck(channel_id, n, centre, lower, upper, found, raised, new)
