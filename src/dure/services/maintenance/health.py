"""A machine's health and remaining useful life from its own sensor history.

The asset's channels are aligned by time over its current run (since its newest failure,
repair or replacement: a repaired machine is judged against its own new normal, not the
worn run before); a ``HealthIndex`` learns normal from the run's first ``baseline``
aligned readings and turns the whole run into a degradation index, a health percentage,
the channels driving it and a remaining life extrapolated from the index's recent trend.
Times are the readings' own timestamps (gaps and irregular sampling count as the time
they are), so the RUL is in hours, shown in days when long.

Where the organisation has trained a run-to-failure ``RulEstimator`` for the asset's kind
(``services.maintenance.run_to_failure``, from failures recorded as maintenance events),
its figure takes precedence: the RUL, its interval and the channels driving it come from
that model, estimated on the asset's current run (since its last failure, repair or
replacement); the degradation index still gives the health % and the index chart.
``model`` in the answer always says which one gave the RUL (``source``, ``rul_model``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import reduce
from typing import Any

import numpy as np

from dure.domain.maintenance import MaintenanceEvent
from dure.domain.plant import Asset, SensorChannel
from dure.domain.times import to_us
from dure.errors import DureError, InvalidInput, ModelFileError, StateConflict
from dure.models.timeseries.health import DEGRADING, HealthIndex
from dure.services.maintenance.run_to_failure import (
    TrainedRul,
    estimate_current_run,
    trained_for,
)
from dure.store.session import Session

DEFAULT_BASELINE = 500  # the first readings count as normal (as the anomaly check does)
MIN_BASELINE = 50
MAX_RECENT = 20_000  # per channel, newest first: about 4.5 months at one reading a 10 min
CHART_POINTS = 300
US_PER_HOUR = 3_600_000_000
DAYS_FROM_HOURS = 48.0  # RULs at or above this many hours are shown in days

log = logging.getLogger(__name__)


class LearningNormal(StateConflict):
    """The machine's current run (since its newest failure, repair or replacement) holds
    too few readings yet for the health index to learn normal from."""


@dataclass(frozen=True)
class AlignedReadings:
    """An asset's channels at the times all of them have a reading, oldest first."""

    channels: list[SensorChannel]
    ts_us: np.ndarray  # int64
    values: np.ndarray  # (readings, channels)
    since: MaintenanceEvent | None = None  # the current run's start: the newest event

    def hours(self) -> np.ndarray:
        """Hours since the first aligned reading."""
        return (self.ts_us - self.ts_us[0]) / US_PER_HOUR  # type: ignore[no-any-return]


@dataclass
class AssetHealth:
    """What the health model says about one asset now."""

    asset: Asset
    readings: AlignedReadings
    model: HealthIndex
    index: np.ndarray
    health: float
    life: Any  # RemainingLife
    drivers: list[dict[str, Any]]
    baseline: int
    model_used: dict[str, Any] = field(default_factory=dict)

    def summary(self, points: int = CHART_POINTS) -> dict[str, Any]:
        """JSON for the API: health %, RUL with its interval and unit, drivers, the index
        series (at most ``points``), each channel's normal band, and which model spoke."""
        low, high = self.model.normal_band()
        keep = downsample(len(self.index), points)
        return {
            "asset_id": self.asset.id,
            "asset_name": self.asset.name,
            "as_of": iso(int(self.readings.ts_us[-1])),
            "health_percent": round(self.health, 1),
            "status": self.life.status,
            "rul": rul_figure(self.life),
            "drivers": self.drivers,
            "model": self.model_used,
            "index": {
                "failure_level": 1.0,
                "alarm_level": round(float(self.model.threshold_.value), 4),
                "now": round(float(self.index[-1]), 4),
                "series": [
                    {
                        "time": iso(int(self.readings.ts_us[k])),
                        "value": round(float(self.index[k]), 4),
                    }
                    for k in keep
                ],
            },
            "normal_band": [
                {
                    "channel_id": c.id,
                    "name": c.name,
                    "unit": c.unit,
                    "low": float(low[i]),
                    "high": float(high[i]),
                    "centre": float(self.model.center_[i]),
                }
                for i, c in enumerate(self.readings.channels)
            ],
        }


def iso(ts_us: int) -> str:
    """A reading time as ISO 8601 UTC."""
    return datetime.fromtimestamp(ts_us / 1e6, UTC).isoformat()


def downsample(n: int, points: int) -> np.ndarray:
    """At most ``points`` evenly spaced indices of ``n`` samples, always with the last."""
    if n <= points:
        return np.arange(n)
    return np.unique(np.round(np.linspace(0, n - 1, points)).astype(int))


def rul_figure(life: Any) -> dict[str, Any]:
    """The RUL in hours and in the unit to show it in (days from 48 h), with its interval."""
    hours = {"value": life.rul, "low": life.low, "high": life.high}
    unit, scale = "hours", 1.0
    if life.rul is not None and life.rul >= DAYS_FROM_HOURS:
        unit, scale = "days", 24.0
    shown = {k: (None if v is None else round(v / scale, 2)) for k, v in hours.items()}
    return {
        **shown,
        "unit": unit,
        "hours": {k: (None if v is None else round(v, 2)) for k, v in hours.items()},
        "coverage": life.coverage,
        "trend": life.trend,
        "reason": life.reason,
    }


def aligned_readings(session: Session, asset_id: str, baseline: int) -> AlignedReadings:
    """The asset's channels at common times in its current run (since its newest failure,
    repair or replacement, when it has one): the run's first ``baseline`` readings and up
    to ``MAX_RECENT`` newest ones per channel (NotFound for another organisation's asset)."""
    asset = session.assets.get(asset_id)
    channels = session.channels.list_own(asset_id=asset.id)
    if not channels:
        raise StateConflict("asset_id", f"{asset.name!r} has no sensor channels")
    events = session.maintenance_events.of_asset(asset.id)
    since = events[-1] if events else None
    since_us = None if since is None else to_us(since.occurred_at)
    per_channel = []
    for c in channels:
        first_ts, first_values = session.readings.arrays(c.id, baseline, since_us=since_us)
        last_ts, last_values = session.readings.arrays(
            c.id, MAX_RECENT, newest=True, since_us=since_us
        )
        ts, where = np.unique(np.concatenate([first_ts, last_ts]), return_index=True)
        per_channel.append((ts, np.concatenate([first_values, last_values])[where]))
    common = reduce(np.intersect1d, [ts for ts, _ in per_channel])
    values = (
        np.column_stack([v[np.searchsorted(ts, common)] for ts, v in per_channel])
        if len(common)
        else np.zeros((0, len(channels)))
    )
    return AlignedReadings(channels, common, values, since)


def trained_rul_model(session: Session, asset: Asset) -> TrainedRul | None:
    """The newest run-to-failure ``RulEstimator`` the organisation trained for machines of
    the asset's kind (from histories of machines like it run to failure), or None; when
    there is one, ``asset_health`` reports its figure and names it in ``model``."""
    return trained_for(session, asset)


def asset_health(
    session: Session,
    asset_id: str,
    baseline: int = DEFAULT_BASELINE,
    coverage: float = 0.8,
    failure_level: float | None = None,
) -> AssetHealth:
    """The asset's health now: a ``HealthIndex`` fitted on its first ``baseline`` aligned
    readings scores its whole (recent) history; the RUL comes from the index's trend, or
    from the newest run-to-failure model of the asset's kind when there is one."""
    if baseline < MIN_BASELINE:
        raise InvalidInput("baseline", f"needs at least {MIN_BASELINE} readings, got {baseline}")
    if not 0 < coverage < 1:
        raise InvalidInput("coverage", f"must be between 0 and 1, got {coverage}")
    if failure_level is not None and not failure_level > 1:
        raise InvalidInput("failure_level", f"must be above 1, got {failure_level}")
    data = aligned_readings(session, asset_id, baseline)
    asset = session.assets.get(asset_id)
    needed = baseline + MIN_BASELINE // 5
    if len(data.ts_us) < needed and data.since is not None:
        raise LearningNormal(
            "asset_id",
            f"{asset.name!r} is learning normal since the {data.since.kind.value} at "
            f"{data.since.occurred_at.isoformat()}: {len(data.ts_us)} of {needed} readings "
            "at times all its channels share",
        )
    if len(data.ts_us) < needed:
        raise StateConflict(
            "asset_id",
            f"{asset.name!r} has {len(data.ts_us)} readings at times all its channels share; "
            f"the health model needs {baseline} to learn normal and more after them",
        )
    params = {} if failure_level is None else {"failure_level": failure_level}
    hours = data.hours()
    model = HealthIndex(**params).fit(data.values[:baseline], hours[:baseline])
    index, life, shares = model.assess(hours, data.values, coverage)
    drivers = sorted(
        (
            {"channel_id": c.id, "name": c.name, "share": round(float(s), 4)}
            for c, s in zip(data.channels, shares, strict=True)
        ),
        key=lambda d: -d["share"],
    )
    used: dict[str, Any] = {
        "kind": model.kind,
        "source": "degradation index from normal operation",
        "rul_source": "degradation index",
        "baseline_readings": baseline,
        "baseline_from": iso(int(data.ts_us[0])),
        "baseline_to": iso(int(data.ts_us[baseline - 1])),
        "failure_level": model.failure_level,
        "smoothing_hours": round(model.smoothing * model.interval_, 3),
        "trend_window_hours": round(model.trend_window * model.interval_, 2),
        "rul_model": None,
    }
    try:
        trained = trained_rul_model(session, asset)
        estimate = (
            None
            if trained is None
            else estimate_current_run(session, trained, asset, coverage, float(index[-1]))
        )
    except (DureError, ModelFileError) as exc:  # a stored model that cannot be read or used
        # one broken model file must not take down the health of every machine: the
        # degradation index keeps giving the RUL, and the answer says why
        log.warning("run-to-failure model skipped for asset %s: %s", asset.id, exc)
        trained, estimate = None, None
        used["rul_model_skipped"] = str(exc)
    if trained is not None and estimate is not None:
        if isinstance(estimate, str):
            used["rul_model_skipped"] = estimate
        else:
            life, drivers = estimate.life, estimate.drivers
            histories = trained.version.card.get("histories")
            used.update(
                source=f"trained on {histories} run-to-failure histories",
                rul_source="trained",
                rul_model={
                    **trained.describe(),
                    "run_start": estimate.run_start,
                    "run_hours": round(estimate.run_hours, 2),
                    "rul_at": estimate.rul_at,
                },
            )
    health = float(np.clip(100.0 * (1.0 - index[-1]), 0.0, 100.0))
    return AssetHealth(asset, data, model, index, health, life, drivers, baseline, used)


def is_degrading(health: AssetHealth) -> bool:
    """True when the RUL is a finite forecast (the index trends up towards failure)."""
    return bool(health.life.status == DEGRADING)
