"""Streaming anomaly detection on a synthetic press: spikes, a drift and a broken relation
between two channels, scored event-wise (not point-adjusted)."""

from __future__ import annotations

import numpy as np
import pytest

from dure.errors import InvalidInput, NotFittedError
from dure.models.timeseries.anomaly import ChannelDetector, CrossChannelDetector, event_f1


def _press(n: int, seed: int) -> np.ndarray:
    """Motor current and temperature follow load; vibration is its own noise."""
    rng = np.random.default_rng(seed)
    load = 50 + 10 * np.sin(np.arange(n) / 200) + rng.normal(0, 1, n)
    return np.column_stack(
        [
            2.0 * load + rng.normal(0, 1, n),
            0.5 * load + 20 + rng.normal(0, 0.5, n),
            rng.normal(3, 0.2, n),
        ]
    )


def _with_faults(seed: int) -> tuple[np.ndarray, np.ndarray, list[tuple[int, int]]]:
    X = _press(6000, seed)
    truth = np.zeros(len(X), bool)
    spikes = [(1000, 1010), (3000, 3010)]
    for a, b in spikes:
        X[a:b, 2] += 3.0  # vibration burst
    X[4000:4300, 0] += np.linspace(0, 25, 300)  # current drifting up
    X[5000:5200, 1] -= 8.0  # temperature no longer follows load (within its usual range)
    events = [*spikes, (4000, 4300), (5000, 5200)]
    for a, b in events:
        truth[a:b] = True
    return X, truth, events


def test_channel_detector_finds_bursts_and_drift_with_few_false_alarms() -> None:
    detector = ChannelDetector().fit(_press(5000, 0))
    X, truth, _ = _with_faults(1)
    scores = detector.channel_scores(X)
    alarms = detector.predict(X)
    result = event_f1(truth, alarms)
    assert result["recall"] >= 0.75 and result["precision"] >= 0.6, result
    assert scores[1005].argmax() == 2  # it names the vibration channel
    streamed = [detector.update(x)[1] for x in X[:1200]]
    assert np.array_equal(streamed, alarms[:1200])


def test_cross_channel_detector_sees_a_broken_relation() -> None:
    X, truth, _ = _with_faults(2)
    cross = CrossChannelDetector().fit(_press(5000, 0))
    alarms = cross.predict(X)
    assert alarms[5000:5200].mean() > 0.5  # the temperature step breaks the load relation
    normal = ~truth
    assert alarms[normal].mean() < 0.01


def test_event_f1_counts_events_not_points() -> None:
    truth = np.zeros(100, bool)
    truth[10:60] = True  # one long event
    truth[80:82] = True  # one short event
    alarms = np.zeros(100, bool)
    alarms[10:60] = True  # the long one found in full
    result = event_f1(truth, alarms)
    assert result == {"precision": 1.0, "recall": 0.5, "f1": pytest.approx(2 / 3), "events": 2.0}
    alarms[90] = True  # a false alarm run
    assert event_f1(truth, alarms)["precision"] == 0.5


def test_bad_input_is_named() -> None:
    with pytest.raises(NotFittedError):
        ChannelDetector().score(np.zeros((3, 2)))
    with pytest.raises(InvalidInput, match="sample 1, channel 0 is NaN"):
        ChannelDetector().fit(np.array([[1.0, 2.0], [np.nan, 1.0]]))
    detector = ChannelDetector().fit(_press(500, 0))
    with pytest.raises(InvalidInput, match="2 channels, the detector knows 3"):
        detector.score(np.zeros((4, 2)))
    with pytest.raises(InvalidInput, match="at least two channels"):
        CrossChannelDetector().fit(np.zeros((10, 1)))
