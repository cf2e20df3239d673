"""A machine's health from its own normal operation: a degradation index and its trend.

Where no run-to-failure histories exist (most machines), wear shows as the machine's
channels drifting away from how they behaved when it was healthy. ``HealthIndex`` learns
that from the first readings of an asset:

1. each channel is smoothed by an exponential moving average with a time constant of
   ``smoothing`` typical sampling intervals, on the timestamps (gaps and irregular
   sampling weigh by elapsed time, not by sample count);
2. each smoothed channel becomes a robust z-score against the normal data (median, MAD);
3. the deviation is the Euclidean norm of those z-scores, and the index rescales it so
   the normal median is 0 and ``failure_level`` (in the same z units) is 1.

``failure_level`` defaults to 30 normal spreads of a smoothed channel. Its normal-data
false-alarm rate is nil (the normal data's 99.9 % level, ``threshold_``, sits near 3-4
spreads, so 30 is ~8x beyond anything normal operation reaches) and the wear behind it is
unmistakable: for a channel whose normal spread is white noise smoothed over 6 samples,
30 spreads is a shift of ~9 raw standard deviations; on the demo press (vibration's normal
spread ~0.2 mm/s, most of it the daily load cycle) it is a rise of ~6 mm/s from 2.2 mm/s,
near ISO 10816-3's zone D boundary (7.1 mm/s) where damage is expected. It is a
convention, not a learned fact: set it per asset where the failure criterion is known,
or train a run-to-failure ``RulEstimator`` where histories exist.

``remaining_life`` extrapolates the trend of the index to the failure level. The trend is
fitted since the wear began (the last time the index was at its normal median), over at
least ``trend_window`` and at most ``MAX_WINDOWS`` x ``trend_window`` typical intervals:
a least-squares line, or an exponential when the index clearly accelerates (a positive
quadratic term beyond 3 standard errors, counting residuals ``BLOCK_TAUS`` smoothing
constants apart as independent). A long window lets the curvature of accelerating wear
show through daily load cycles that hide it in two days of data. The interval comes from a
moving-block bootstrap of the residuals (smoothed series are autocorrelated), each draw's
target level shifted by one residual, so it spans when the index as observed (noise and
load cycles included) reaches the failure level. A flat or improving trend, or an index
still inside the normal band, is "not degrading".

Measured: on 30 synthetic machines with linear wear the 80 % interval held the true RUL
for 26; on the demo press (exponential wear under a daily load cycle) at its last reading
it says 34 h (33-43 h) where the wear alone reaches the failure level at 34 h (the cycle's
peaks touch it 3 h sooner).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from dure.errors import InvalidInput, NotFittedError
from dure.models.contract import Model, State
from dure.models.registry import register
from dure.models.timeseries.samples import checked_samples, quantile_threshold

MIN_FIT_SAMPLES = 20
MIN_TREND_SAMPLES = 8
MAX_WINDOWS = 10.0  # a trend since the wear began is fitted over at most this many windows
BLOCK_TAUS = 5.0  # residuals this many smoothing constants apart count as independent
CURVATURE_T = 3.0
DEGRADING, NOT_DEGRADING, FAILED = "degrading", "not degrading", "failed"


@dataclass(frozen=True)
class RemainingLife:
    """Remaining useful life from the index's trend, in the unit of the times given.

    ``rul`` is None unless ``status`` is "degrading" (0 when "failed"); ``low`` and
    ``high`` bound it at ``coverage`` (``high`` None when the upper end is unbounded).
    """

    status: str
    rul: float | None
    low: float | None
    high: float | None
    coverage: float
    index_now: float
    trend: str | None  # "linear" or "exponential"
    slope: float | None  # index units per time unit, at the window's end
    window: float  # how much time the trend was fitted on
    reason: str

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON values."""
        return asdict(self)


def _checked(
    X: np.ndarray, times: np.ndarray | None, channels: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    X = checked_samples(X, channels)
    if times is None:
        t = np.arange(len(X), dtype=np.float64)
    else:
        t = np.asarray(times, dtype=np.float64)
        if t.shape != (len(X),):
            raise InvalidInput("times", f"{t.shape} times for {len(X)} samples")
        if not np.isfinite(t).all():
            raise InvalidInput("times", f"time {int(np.argmax(~np.isfinite(t)))} is NaN or inf")
        if len(t) > 1 and not (np.diff(t) > 0).all():
            at = int(np.argmax(np.diff(t) <= 0)) + 1
            raise InvalidInput("times", f"time {at} is not after time {at - 1} (sort, dedupe)")
    return X, t


def smooth(X: np.ndarray, t: np.ndarray, tau: float) -> np.ndarray:
    """Exponential moving average of each column with time constant ``tau`` (same unit as
    ``t``): a sample after a long gap weighs more, as more time has passed."""
    alpha = 1.0 - np.exp(-np.diff(t) / tau)
    out = np.empty_like(X)
    state = X[0].copy()
    out[0] = state
    for k in range(1, len(X)):
        state += alpha[k - 1] * (X[k] - state)
        out[k] = state
    return out


@register
class HealthIndex(Model):
    """fit(normal, times) -> self; score(X, times) -> the degradation index (0 normal,
    1 failure level); health(X, times) -> 0-100 %; remaining_life(times, X) -> RUL;
    drivers(X, times) -> each channel's share of the deviation now."""

    kind = "health-index"

    def __init__(
        self,
        smoothing: float = 6.0,
        failure_level: float = 30.0,
        false_alarm_rate: float = 0.001,
        trend_window: float = 288.0,
        horizon: float = 20.0,
        bootstrap: int = 200,
        random_state: int = 0,
    ) -> None:
        self.smoothing = smoothing
        self.failure_level = failure_level
        self.false_alarm_rate = false_alarm_rate
        self.trend_window = trend_window
        self.horizon = horizon
        self.bootstrap = bootstrap
        self.random_state = random_state

    # ---- learning normal ------------------------------------------------------------
    def fit(self, normal: np.ndarray, times: np.ndarray | None = None) -> HealthIndex:
        """Learn each channel's normal level and spread (after smoothing) from healthy
        readings; ``times`` in any unit (default: sample numbers), increasing."""
        self._check_params()
        X, t = _checked(normal, times)
        if len(X) < MIN_FIT_SAMPLES:
            raise InvalidInput("normal", f"{len(X)} samples; needs {MIN_FIT_SAMPLES}")
        self.interval_ = float(np.median(np.diff(t)))
        S = smooth(X, t, self.smoothing * self.interval_)
        self.center_ = np.median(S, axis=0)
        mad = np.median(np.abs(S - self.center_), axis=0) * 1.4826
        fallback = S.std(axis=0)
        self.spread_ = np.where(mad > 0, mad, np.where(fallback > 0, fallback, 1.0))
        z = np.abs(S - self.center_) / self.spread_
        self.band_z_ = np.quantile(z, 1 - self.false_alarm_rate, axis=0)
        deviation = np.linalg.norm((S - self.center_) / self.spread_, axis=1)
        self.normal_deviation_ = float(np.median(deviation))
        self.threshold_ = quantile_threshold(self._index(deviation), self.false_alarm_rate)
        self.data_ = {"samples": len(X), "channels": X.shape[1], "span": float(t[-1] - t[0])}
        return self

    def _check_params(self) -> None:
        for name in ("smoothing", "failure_level", "trend_window", "horizon"):
            if not float(getattr(self, name)) > 0:
                raise InvalidInput(name, f"must be positive, got {getattr(self, name)}")
        if not 0 < self.false_alarm_rate < 1:
            raise InvalidInput("false_alarm_rate", "must be between 0 and 1")
        if self.failure_level <= 1:
            raise InvalidInput("failure_level", "must be above 1 normal spread")
        if int(self.bootstrap) < 20:
            raise InvalidInput("bootstrap", f"needs at least 20 resamples, got {self.bootstrap}")

    def _fitted(self) -> None:
        if not hasattr(self, "center_"):
            raise NotFittedError("fit the health model on normal data first")

    def _index(self, deviation: np.ndarray) -> np.ndarray:
        d0 = self.normal_deviation_
        return (deviation - d0) / (self.failure_level - d0)  # type: ignore[no-any-return]

    def _z(self, X: np.ndarray, times: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        self._fitted()
        X, t = _checked(X, times, self.center_.size)
        S = smooth(X, t, self.smoothing * self.interval_)
        return (S - self.center_) / self.spread_, t

    # ---- the contract ----------------------------------------------------------------
    def score(self, X: np.ndarray, times: np.ndarray | None = None) -> np.ndarray:
        """The degradation index of each sample: ~0 in normal operation, 1 at the failure
        level (higher is worse; slightly negative is as normal as it gets)."""
        z, _ = self._z(X, times)
        return self._index(np.linalg.norm(z, axis=1))

    def predict(self, X: np.ndarray, times: np.ndarray | None = None) -> np.ndarray:
        """True where the index is beyond the normal band (the false-alarm-rate level)."""
        return self.score(X, times) > self.threshold_.value  # type: ignore[no-any-return]

    def health(self, X: np.ndarray, times: np.ndarray | None = None) -> np.ndarray:
        """Health in percent: 100 in normal operation, 0 at or past the failure level."""
        return np.clip(100.0 * (1.0 - self.score(X, times)), 0.0, 100.0)  # type: ignore[no-any-return]

    def drivers(self, X: np.ndarray, times: np.ndarray | None = None) -> np.ndarray:
        """Each channel's share (summing to 1) of the squared deviation over the newest
        ``smoothing`` intervals: which channels drive the index now."""
        z, t = self._z(X, times)
        return self._shares(z, t)

    def _shares(self, z: np.ndarray, t: np.ndarray) -> np.ndarray:
        recent = t >= t[-1] - self.smoothing * self.interval_
        share = np.mean(z[recent] ** 2, axis=0)
        total = share.sum()
        return share / total if total > 0 else np.full(share.size, 1.0 / share.size)  # type: ignore[no-any-return]

    def normal_band(self) -> tuple[np.ndarray, np.ndarray]:
        """Per channel, the (low, high) range the smoothed readings keep to in normal
        operation (all but ``false_alarm_rate`` of the normal data)."""
        self._fitted()
        half = self.band_z_ * self.spread_
        return self.center_ - half, self.center_ + half

    # ---- remaining life ----------------------------------------------------------------
    def remaining_life(
        self, times: np.ndarray, X: np.ndarray, coverage: float = 0.8
    ) -> RemainingLife:
        """Time until the index reaches 1 (the failure level), extrapolated from its trend
        over the newest ``trend_window`` typical intervals; in the unit of ``times``."""
        if times is None:
            raise InvalidInput("times", "remaining life needs the readings' times")
        self._check_coverage(coverage)
        z, t = self._z(X, times)
        return self._life(t, self._index(np.linalg.norm(z, axis=1)), coverage)

    def assess(
        self, times: np.ndarray, X: np.ndarray, coverage: float = 0.8
    ) -> tuple[np.ndarray, RemainingLife, np.ndarray]:
        """``score``, ``remaining_life`` and ``drivers`` at once (one smoothing pass)."""
        if times is None:
            raise InvalidInput("times", "remaining life needs the readings' times")
        self._check_coverage(coverage)
        z, t = self._z(X, times)
        index = self._index(np.linalg.norm(z, axis=1))
        return index, self._life(t, index, coverage), self._shares(z, t)

    @staticmethod
    def _check_coverage(coverage: float) -> None:
        if not 0 < coverage < 1:
            raise InvalidInput("coverage", f"must be between 0 and 1, got {coverage}")

    def _life(self, t: np.ndarray, index: np.ndarray, coverage: float) -> RemainingLife:
        width = self.trend_window * self.interval_
        below = np.flatnonzero(index <= 0.0)  # the last time it was as normal as usual
        onset = t[below[-1]] if len(below) else t[0]
        start = max(min(onset, t[-1] - width), t[-1] - MAX_WINDOWS * width)
        recent = t >= start
        tw, yw = t[recent], index[recent]
        now = float(index[-1])
        common = {"coverage": coverage, "index_now": now, "window": float(tw[-1] - tw[0])}
        if now >= 1.0:
            return RemainingLife(
                FAILED,
                0.0,
                0.0,
                0.0,
                trend=None,
                slope=None,
                reason="the index is at or past the failure level",
                **common,
            )
        if len(tw) < MIN_TREND_SAMPLES or tw[-1] - tw[0] < width / 4:
            return RemainingLife(
                NOT_DEGRADING,
                None,
                None,
                None,
                trend=None,
                slope=None,
                reason=f"too few recent readings for a trend ({len(tw)})",
                **common,
            )
        if not (yw > self.threshold_.value).any():
            return RemainingLife(
                NOT_DEGRADING,
                None,
                None,
                None,
                trend=None,
                slope=None,
                reason="the index stays inside the normal band",
                **common,
            )
        block = max(
            2, int(np.ceil(BLOCK_TAUS * self.smoothing * self.interval_ / np.median(np.diff(tw))))
        )
        trend = _best_trend(tw, yw, block)
        slope = trend.slope_at(tw[-1])
        crossing = trend.crossing(tw[-1])
        horizon = self.horizon * width
        if slope <= 0 or crossing is None or crossing > horizon:
            why = "flat or improving" if slope <= 0 else "too slow to reach failure soon"
            return RemainingLife(
                NOT_DEGRADING,
                None,
                None,
                None,
                trend=trend.name,
                slope=float(slope),
                reason=f"the trend is {why}",
                **common,
            )
        rng = np.random.default_rng(self.random_state)
        crossings = np.array(
            [
                _crossing(
                    trend.name,
                    tw,
                    trend.fitted + _block_resample(trend.residual, block, rng),
                    1.0 - float(rng.choice(trend.residual)),
                )
                for _ in range(int(self.bootstrap))
            ]
        )
        lo, hi = np.quantile(crossings, [(1 - coverage) / 2, (1 + coverage) / 2])
        if not np.isfinite(lo):
            return RemainingLife(
                NOT_DEGRADING,
                None,
                None,
                None,
                trend=trend.name,
                slope=float(slope),
                reason="the trend is not significant",
                **common,
            )
        return RemainingLife(
            DEGRADING,
            float(crossing),
            float(min(lo, crossing)),
            float(max(hi, crossing)) if np.isfinite(hi) and hi <= horizon else None,
            trend=trend.name,
            slope=float(slope),
            reason=f"{trend.name} trend of the newest {len(tw)} readings",
            **common,
        )

    # ---- saving ------------------------------------------------------------------------
    def _state(self) -> State:
        self.check_is_fitted()
        return State(
            {"center": self.center_, "spread": self.spread_, "band_z": self.band_z_},
            {"interval": self.interval_, "normal_deviation": self.normal_deviation_},
        )

    def _restore(self, state: State) -> None:
        self.center_ = state.arrays["center"]
        self.spread_ = state.arrays["spread"]
        self.band_z_ = state.arrays["band_z"]
        self.interval_ = float(state.values["interval"])
        self.normal_deviation_ = float(state.values["normal_deviation"])


# ---- trends ---------------------------------------------------------------------------
@dataclass
class _Trend:
    """A trend fitted to the index over a window: a line, or an exponential
    (index = exp(a + b t), fitted to log(index) weighted by index**2, which approximates
    least squares on the index itself)."""

    name: str
    a: float
    b: float
    fitted: np.ndarray
    residual: np.ndarray

    def value(self, t: np.ndarray) -> np.ndarray:
        if self.name == "linear":
            return self.a + self.b * t  # type: ignore[no-any-return]
        return np.exp(self.a + self.b * t)  # type: ignore[no-any-return]

    def slope_at(self, t: float) -> float:
        if self.name == "linear":
            return self.b
        return float(self.b * np.exp(self.a + self.b * t))

    def crossing(self, now: float, level: float = 1.0) -> float | None:
        """Time from ``now`` until the trend reaches ``level``; None when it never does."""
        if not self.b > 0 or (self.name == "exponential" and level <= 0):
            return None
        at = (
            (level - self.a) / self.b
            if self.name == "linear"
            else (np.log(level) - self.a) / self.b
        )
        return max(float(at - now), 0.0)


def _fit(name: str, t: np.ndarray, y: np.ndarray) -> _Trend | None:
    if name == "linear":
        target, w = y, np.ones_like(y)
    else:
        keep = y > 0
        if keep.sum() < MIN_TREND_SAMPLES:
            return None
        target, w = np.log(np.where(keep, y, 1.0)), np.where(keep, y**2, 0.0)
    mt = np.sum(w * t) / w.sum()
    my = np.sum(w * target) / w.sum()
    b = float(np.sum(w * (t - mt) * (target - my)) / np.sum(w * (t - mt) ** 2))
    trend = _Trend(name, float(my - b * mt), b, y, y)
    fitted = trend.value(t)
    trend.fitted, trend.residual = fitted, y - fitted
    return trend


def _crossing(name: str, t: np.ndarray, y: np.ndarray, level: float) -> float:
    """When a trend refitted to ``y`` reaches ``level`` (inf when never): one bootstrap
    draw, whose level carries one residual so the interval covers when the index as
    observed, noise and load cycles included, reaches the failure level."""
    trend = _fit(name, t, y)
    crossing = trend.crossing(t[-1], level) if trend else None
    return np.inf if crossing is None else crossing


def _best_trend(t: np.ndarray, y: np.ndarray, block: int) -> _Trend:
    """A line, unless the index clearly accelerates: its quadratic term is positive by
    more than ``CURVATURE_T`` standard errors (counting one independent residual per
    ``block`` neighbours) and the exponential fits better than the line."""
    line = _fit("linear", t, y)
    assert line is not None
    exponential = _fit("exponential", t, y)
    if exponential is None or np.sum(exponential.residual**2) >= np.sum(line.residual**2):
        return line
    u = (t - t.mean()) / (np.ptp(t) or 1.0)
    design = np.column_stack([np.ones_like(u), u, u**2])
    coef, *_ = np.linalg.lstsq(design, y, rcond=None)
    residual = y - design @ coef
    inflation = block if len(y) / block >= 4 else len(y) / 4
    sigma2 = float(np.sum(residual**2)) / max(len(y) - 3, 1) * inflation
    se = float(np.sqrt(sigma2 * np.linalg.pinv(design.T @ design)[2, 2]))
    return exponential if coef[2] > CURVATURE_T * se else line


def _block_resample(residual: np.ndarray, block: int, rng: np.random.Generator) -> np.ndarray:
    """Residuals resampled in blocks of ``block`` neighbours (keeps their autocorrelation)."""
    n = len(residual)
    block = min(block, n)
    starts = rng.integers(0, n - block + 1, size=int(np.ceil(n / block)))
    return np.concatenate([residual[s : s + block] for s in starts])[:n]
