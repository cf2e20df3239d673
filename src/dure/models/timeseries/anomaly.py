"""Streaming anomaly detection on machine sensors, per channel and across channels.

Both detectors learn "normal" from a stretch of healthy data and set their threshold at a
target false-alarm rate on it (the model contract's calibrated ``predict``):

- ``ChannelDetector``: each channel's robust z-score (median / MAD), exponentially
  smoothed so single noisy samples do not alarm; a channel alarms on its own.
- ``CrossChannelDetector``: principal components of the standardised channels; the
  squared prediction error (Q statistic) flags readings that break the usual relations
  between channels even when every channel stays in its own range.

``update`` takes one sample at a time (streaming); ``score`` a whole array.
Evaluate with ``event_f1``: each true anomaly event counts once, never point-adjusted.
"""

from __future__ import annotations

import numpy as np

from dure.errors import InvalidInput, NotFittedError
from dure.models.contract import Model, State
from dure.models.registry import register
from dure.models.threshold import Threshold
from dure.models.timeseries.samples import checked_samples, quantile_threshold


def _checked(X: np.ndarray, channels: int | None = None) -> np.ndarray:
    return checked_samples(X, channels, who="detector")


@register
class ChannelDetector(Model):
    """Per-channel smoothed robust z-score; alarms when any channel exceeds its threshold."""

    kind = "sensor-channels"

    def __init__(self, smoothing: float = 0.3, false_alarm_rate: float = 0.001) -> None:
        self.smoothing = smoothing
        self.false_alarm_rate = false_alarm_rate
        self._smoothed: np.ndarray | None = None

    def fit(self, normal: np.ndarray) -> ChannelDetector:
        """Learn centre and spread of each channel and the threshold from healthy data."""
        X = _checked(normal)
        self.center_ = np.median(X, axis=0)
        mad = np.median(np.abs(X - self.center_), axis=0) * 1.4826
        self.spread_ = np.where(mad > 0, mad, X.std(axis=0) + 1e-12)
        self.threshold_ = quantile_threshold(self.score(X), self.false_alarm_rate)
        self.data_ = {"samples": len(X), "channels": X.shape[1]}
        self._smoothed = None
        return self

    def learned(self) -> dict[str, object]:
        """What a watch needs to go on scoring one sample at a time (JSON values)."""
        self.check_is_fitted()
        return {
            "center": self.center_.tolist(),
            "spread": self.spread_.tolist(),
            "threshold": self.threshold_.value,
            "smoothing": self.smoothing,
            "smoothed": None if self._smoothed is None else self._smoothed.tolist(),
        }

    @classmethod
    def from_learned(cls, learned: dict[str, object]) -> ChannelDetector:
        """A detector back from ``learned()`` (smoothing state included), ready to ``update``."""
        det = cls(smoothing=float(learned["smoothing"]))  # type: ignore[arg-type]
        det.center_ = np.asarray(learned["center"], dtype=np.float64)
        det.spread_ = np.asarray(learned["spread"], dtype=np.float64)
        det.threshold_ = Threshold(
            value=float(learned["threshold"]),  # type: ignore[arg-type]
            method="false_alarm_rate",
            target_false_alarm_rate=det.false_alarm_rate,
            n_good=0,
            n_defective=0,
            expected_false_alarm_rate=det.false_alarm_rate,
            expected_miss_rate=None,
        )
        smoothed = learned.get("smoothed")
        det._smoothed = None if smoothed is None else np.asarray(smoothed, dtype=np.float64)
        return det

    def forget_smoothing(self) -> None:
        """Start the smoothing afresh (after a gap in the data, the old state says nothing)."""
        self._smoothed = None

    def score(self, X: np.ndarray) -> np.ndarray:
        """The anomaly score of each sample (max over channels of the smoothed |z|)."""
        return self.channel_scores(X).max(axis=1)

    def channel_scores(self, X: np.ndarray) -> np.ndarray:
        """Smoothed |z| per sample and channel (which channel is abnormal)."""
        if not hasattr(self, "center_"):
            raise NotFittedError("fit the detector on normal data first")
        z = np.abs((_checked(X, self.center_.size) - self.center_) / self.spread_)
        out = np.empty_like(z)
        state = z[0]
        for t in range(len(z)):
            state = self.smoothing * z[t] + (1 - self.smoothing) * state
            out[t] = state
        return out

    def update(self, sample: np.ndarray) -> tuple[float, bool]:
        """One new sample: its score and whether it alarms (keeps the smoothing state)."""
        if not hasattr(self, "center_"):
            raise NotFittedError("fit the detector on normal data first")
        row = _checked(np.asarray(sample)[None, :], self.center_.size)[0]
        z = np.abs((row - self.center_) / self.spread_)
        self._smoothed = (
            z
            if self._smoothed is None
            else self.smoothing * z + (1 - self.smoothing) * self._smoothed
        )
        score = float(self._smoothed.max())
        return score, score > self.threshold_.value

    def predict(self, X: np.ndarray) -> np.ndarray:
        """True where a sample alarms."""
        return self.score(X) > self.threshold_.value

    def _state(self) -> State:
        self.check_is_fitted()
        return State({"center": self.center_, "spread": self.spread_})

    def _restore(self, state: State) -> None:
        self.center_ = state.arrays["center"]
        self.spread_ = state.arrays["spread"]
        self._smoothed = None


@register
class CrossChannelDetector(Model):
    """Q statistic (squared prediction error) of a PCA model of the standardised channels."""

    kind = "sensor-cross-channel"

    def __init__(self, explained: float = 0.95, false_alarm_rate: float = 0.001) -> None:
        self.explained = explained
        self.false_alarm_rate = false_alarm_rate

    def fit(self, normal: np.ndarray) -> CrossChannelDetector:
        """Learn the channels' usual relations from healthy data."""
        X = _checked(normal)
        if X.shape[1] < 2:
            raise InvalidInput("X", "cross-channel detection needs at least two channels")
        self.mean_, self.scale_ = X.mean(axis=0), X.std(axis=0) + 1e-12
        Z = (X - self.mean_) / self.scale_
        _, s, vt = np.linalg.svd(Z, full_matrices=False)
        share = np.cumsum(s**2) / np.sum(s**2)
        k = min(int(np.searchsorted(share, self.explained) + 1), X.shape[1] - 1)
        self.components_ = vt[:k]
        self.threshold_ = quantile_threshold(self.score(X), self.false_alarm_rate)
        self.data_ = {"samples": len(X), "channels": X.shape[1], "components": k}
        return self

    def score(self, X: np.ndarray) -> np.ndarray:
        """The squared distance of each sample from the normal subspace."""
        if not hasattr(self, "mean_"):
            raise NotFittedError("fit the detector on normal data first")
        Z = (_checked(X, self.mean_.size) - self.mean_) / self.scale_
        residual = Z - (Z @ self.components_.T) @ self.components_
        return np.sum(residual**2, axis=1)  # type: ignore[no-any-return]

    def predict(self, X: np.ndarray) -> np.ndarray:
        """True where a sample alarms."""
        return self.score(X) > self.threshold_.value

    def _state(self) -> State:
        self.check_is_fitted()
        return State({"mean": self.mean_, "scale": self.scale_, "components": self.components_})

    def _restore(self, state: State) -> None:
        self.mean_ = state.arrays["mean"]
        self.scale_ = state.arrays["scale"]
        self.components_ = state.arrays["components"]


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    padded = np.concatenate([[False], mask.astype(bool), [False]])
    edges = np.flatnonzero(padded[1:] != padded[:-1])
    return list(zip(edges[::2], edges[1::2], strict=True))


def event_f1(truth: np.ndarray, alarms: np.ndarray) -> dict[str, float]:
    """Event-wise precision, recall and F1: a true event is found when any alarm falls in
    it; an alarm run is correct when it overlaps a true event. Long events do not count
    more than short ones, and no point-adjustment inflates the figures."""
    truth, alarms = np.asarray(truth, bool), np.asarray(alarms, bool)
    if truth.shape != alarms.shape:
        raise InvalidInput("alarms", f"{alarms.shape} alarms for {truth.shape} labels")
    events, runs = _runs(truth), _runs(alarms)
    found = sum(1 for a, b in events if alarms[a:b].any())
    correct = sum(1 for a, b in runs if truth[a:b].any())
    recall = found / len(events) if events else 0.0
    precision = correct / len(runs) if runs else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "events": float(len(events))}
