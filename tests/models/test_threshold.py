"""Threshold calibration."""

from __future__ import annotations

import numpy as np
import pytest

from dure.models.threshold import calibrate


def test_false_alarm_rate_is_kept_on_the_calibration_scores() -> None:
    good = np.random.default_rng(0).normal(size=1000)
    th = calibrate(good, false_alarm_rate=0.01)
    assert np.mean(good >= th.value) <= 0.01 and th.expected_false_alarm_rate <= 0.01
    assert np.mean(good >= th.value - 1e-3) > 0.005  # not needlessly high


def test_best_f1_with_labelled_defects() -> None:
    th = calibrate(np.array([0.1, 0.2, 0.3]), np.array([0.5, 0.6]))
    assert th.method == "best_f1" and 0.3 < th.value <= 0.5 and th.expected_miss_rate == 0


def test_empty_good_scores_are_refused() -> None:
    with pytest.raises(ValueError, match="held-out good"):
        calibrate(np.array([]))
