"""What the time-series models share: checking a (samples, channels) array, and a
threshold that healthy data exceed at a target false-alarm rate."""

from __future__ import annotations

import numpy as np

from dure.errors import InvalidInput
from dure.models.threshold import Threshold


def checked_samples(X: np.ndarray, channels: int | None = None, who: str = "model") -> np.ndarray:
    """``X`` as a finite float (samples, channels) array (one column when 1-D); InvalidInput
    naming ``X`` otherwise, or when it has another number of channels than ``who`` knows."""
    X = np.asarray(X, dtype=np.float64)
    if X.ndim == 1:
        X = X[:, None]
    if X.ndim != 2 or len(X) == 0:
        raise InvalidInput("X", f"expected (samples, channels), got {X.shape}")
    if channels is not None and X.shape[1] != channels:
        raise InvalidInput("X", f"{X.shape[1]} channels, the {who} knows {channels}")
    if not np.isfinite(X).all():
        row, col = np.argwhere(~np.isfinite(X))[0]
        raise InvalidInput("X", f"sample {row}, channel {col} is NaN or inf")
    return X


def quantile_threshold(scores: np.ndarray, false_alarm_rate: float) -> Threshold:
    """The score that healthy data exceed at ``false_alarm_rate`` (alarms are above it)."""
    value = float(np.quantile(scores, 1 - false_alarm_rate))
    return Threshold(
        value=value,
        method="false_alarm_rate",
        target_false_alarm_rate=false_alarm_rate,
        n_good=int(len(scores)),
        n_defective=0,
        expected_false_alarm_rate=float(np.mean(scores > value)),
        expected_miss_rate=None,
    )
