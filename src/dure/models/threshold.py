"""Decision thresholds: from good images to a false-alarm rate, or to best F1 with defects."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np


@dataclass(frozen=True)
class Threshold:
    """A calibrated threshold and the evidence behind it (kept in the model card)."""

    value: float
    method: str
    target_false_alarm_rate: float | None
    n_good: int
    n_defective: int
    expected_false_alarm_rate: float
    expected_miss_rate: float | None

    def as_dict(self) -> dict[str, object]:
        """JSON form for the model card."""
        return asdict(self)


def calibrate(
    good_scores: np.ndarray, defect_scores: np.ndarray | None = None, false_alarm_rate: float = 0.01
) -> Threshold:
    """A threshold from held-out good scores (quantile) or, with defects, the best-F1 point."""
    good = np.sort(np.asarray(good_scores, dtype=np.float64))
    if good.size == 0:
        raise ValueError("calibration needs scores of held-out good images")
    if not 0 < false_alarm_rate < 1:
        raise ValueError(f"false_alarm_rate must be between 0 and 1, got {false_alarm_rate}")
    bad = (
        np.sort(np.asarray(defect_scores, dtype=np.float64)) if defect_scores is not None else None
    )
    if bad is None or bad.size == 0:
        # The smallest value that keeps at most the target share of good images above it.
        k = int(np.floor(false_alarm_rate * good.size))
        value = float(np.nextafter(good[-k - 1], np.inf)) if k < good.size else float(good[0])
        far = float(np.mean(good >= value))
        return Threshold(value, "false_alarm_rate", false_alarm_rate, int(good.size), 0, far, None)
    candidates = np.unique(np.concatenate([good, bad]))
    best, best_f1 = float(candidates[-1]), -1.0
    for th in candidates:
        tp = np.sum(bad >= th)
        fp = np.sum(good >= th)
        f1 = 2 * tp / (2 * tp + fp + (bad.size - tp)) if tp else 0.0
        if f1 > best_f1:
            best, best_f1 = float(th), float(f1)
    return Threshold(
        best,
        "best_f1",
        None,
        int(good.size),
        int(bad.size),
        float(np.mean(good >= best)),
        float(np.mean(bad < best)),
    )
