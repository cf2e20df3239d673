"""The health index: a degradation index from normal operation and the RUL it implies."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from dure.errors import InvalidInput
from dure.models.registry import load_model
from dure.models.timeseries.health import DEGRADING, FAILED, NOT_DEGRADING, HealthIndex, smooth
from dure.services.demo.plant_data import CHANNELS, sensor_csv

DRIFT_START, END, SLOPE = 600.0, 1000.0, 0.011


def _machine(seed: int, slope: float = SLOPE, end: float = END) -> tuple[np.ndarray, np.ndarray]:
    """Three noisy channels sampled irregularly (with one long gap); channel 1 wears
    linearly from DRIFT_START on."""
    rng = np.random.default_rng(seed)
    t = np.cumsum(rng.uniform(0.5, 1.5, int(end * 1.2)))
    t = t[t <= end]
    t = t[(t < 700) | (t > 760)]  # a gap of 60 time units in the wear phase
    X = rng.normal(0, 1, (len(t), 3)) + [5.0, 20.0, -3.0]
    X[:, 1] += slope * np.clip(t - DRIFT_START, 0, None)
    return X, t


def _fitted(X: np.ndarray, t: np.ndarray) -> HealthIndex:
    return HealthIndex().fit(X[:380], t[:380])  # about the first 380 minutes: healthy


def _true_rul(model: HealthIndex, slope: float = SLOPE) -> float:
    """When the noiseless smoothed wear of channel 1 reaches the failure level."""
    t = np.arange(0.0, 5000.0, 0.5)
    wear = (20.0 + slope * np.clip(t - DRIFT_START, 0, None))[:, None]
    z = smooth(wear, t, model.smoothing * model.interval_)[:, 0] - model.center_[1]
    crossing = t[np.argmax(z / model.spread_[1] >= model.failure_level)]
    return float(crossing - END)


def test_linear_wear_gives_an_rul_whose_interval_holds_the_truth() -> None:
    """Over 20 machines the 80 % interval holds the true RUL for most (26 of 30 measured:
    the block bootstrap is a little narrow) and the estimate is near it."""
    held, errors = [], []
    for seed in range(20):
        X, t = _machine(seed)
        model = _fitted(X, t)
        life = model.remaining_life(t, X, coverage=0.8)
        truth = _true_rul(model)
        assert life.status == DEGRADING, life
        assert life.rul is not None and life.low is not None and life.high is not None
        assert life.low <= life.rul <= life.high
        held.append(life.low <= truth <= life.high)
        errors.append(abs(life.rul / truth - 1))
        assert 0 < model.score(X, t)[-1] < 1
        assert 0 < model.health(X, t)[-1] < 100
    assert np.mean(held) >= 0.6, held
    assert np.median(errors) < 0.1 and max(errors) < 0.5, errors


def _demo_press(fails_at_day: float | None) -> tuple[np.ndarray, np.ndarray]:
    """The demo's 30 days of press readings (every 10 min), in hours."""
    start = datetime(2026, 1, 1, tzinfo=UTC)
    text = sensor_csv(np.random.default_rng(7), "p", start, 30, 10, fails_at_day).decode()
    rows = list(csv.DictReader(io.StringIO(text)))
    X = np.array([[float(r["value"]) for r in rows if r["channel"] == n] for n, _ in CHANNELS]).T
    return X, np.arange(len(X)) / 6.0


def test_the_demo_press_rul_holds_when_its_wear_reaches_the_failure_level() -> None:
    """The demo's bearing wears exponentially (e-fold every 3 days) under a daily load
    cycle: the trend since the wear began is exponential, and its interval holds the hour
    the wear alone (no noise, no load cycle) takes the index to the failure level (34 h
    after the last reading; the peaks of the cycle touch it about 3 h sooner)."""
    X, hours = _demo_press(31.0)
    model = HealthIndex().fit(X[:500], hours[:500])
    life = model.remaining_life(hours, X)
    days = np.arange(0, 34 * 144) / 144
    wear = np.exp((days - 31.0) / 3.0)
    clean = np.column_stack([2.2 + 6 * wear, 38 + 6 * wear, 45 + 12 * wear])
    index = model.score(clean, days * 24)
    truth = days[np.argmax(index >= 1)] * 24 - hours[-1]
    assert life.status == DEGRADING and life.trend == "exponential", life
    assert life.low is not None and life.high is not None
    assert life.low <= truth <= life.high, (truth, life)
    assert abs(life.rul - truth) < 0.15 * truth, (truth, life)
    X, hours = _demo_press(None)
    healthy = HealthIndex().fit(X[:500], hours[:500])
    assert healthy.remaining_life(hours, X).status == NOT_DEGRADING


def test_a_flat_healthy_machine_is_not_degrading() -> None:
    X, t = _machine(3, slope=0.0)
    model = _fitted(X, t)
    life = model.remaining_life(t, X)
    assert life.status == NOT_DEGRADING and life.rul is None, life
    assert np.median(model.health(X, t)) > 95
    assert abs(np.median(model.score(X, t))) < 0.05


def test_an_improving_machine_is_not_degrading() -> None:
    X, t = _machine(4)
    model = _fitted(X, t)
    back = X.copy()
    back[:, 1] = X[:, 1][::-1] - X[:, 1].mean() + 20.0  # worn at first, recovering since
    assert model.remaining_life(t, back).status == NOT_DEGRADING


def test_past_the_failure_level_is_failed_with_no_time_left() -> None:
    X, t = _machine(5, slope=0.2)
    life = _fitted(X, t).remaining_life(t, X)
    assert life.status == FAILED and life.rul == 0.0


def test_the_drifting_channel_drives_the_index() -> None:
    X, t = _machine(6)
    shares = _fitted(X, t).drivers(X, t)
    assert np.argmax(shares) == 1 and shares[1] > 0.8
    assert shares.sum() == pytest.approx(1.0)


def test_rul_is_in_the_unit_of_the_times() -> None:
    """Times in seconds instead of minutes: the same index, the RUL 60 times larger;
    sample numbers instead of the (irregular, gapped) times: a different RUL."""
    X, t = _machine(7)
    minutes = _fitted(X, t).remaining_life(t, X)
    seconds = _fitted(X, t * 60).remaining_life(t * 60, X)
    assert minutes.rul is not None and seconds.rul is not None
    assert seconds.rul == pytest.approx(60 * minutes.rul, rel=1e-6)
    samples = np.arange(len(t), dtype=float)
    by_index = _fitted(X, t).remaining_life(samples, X)
    assert by_index.rul != pytest.approx(minutes.rul, rel=0.05)


def test_save_and_load_round_trip_exactly(tmp_path: Path) -> None:
    X, t = _machine(8)
    model = _fitted(X, t)
    again = load_model(model.save(tmp_path / "health"))
    assert isinstance(again, HealthIndex)
    np.testing.assert_array_equal(again.score(X, t), model.score(X, t))
    assert again.remaining_life(t, X) == model.remaining_life(t, X)
    index, life, shares = again.assess(t, X)
    np.testing.assert_array_equal(index, model.score(X, t))
    assert life == model.remaining_life(t, X)
    np.testing.assert_array_equal(shares, model.drivers(X, t))
    low, high = again.normal_band()
    np.testing.assert_array_equal(low, model.normal_band()[0])
    assert (low < model.center_).all() and (high > model.center_).all()


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (
            lambda m, X, t: m.score(
                np.where(np.arange(X.size).reshape(X.shape) == 7, np.nan, X), t
            ),
            "X",
        ),
        (lambda m, X, t: m.score(X[:, :2], t), "X"),
        (lambda m, X, t: m.score(X, t[::-1]), "times"),
        (lambda m, X, t: m.score(X, t[:-1]), "times"),
        (lambda m, X, t: m.remaining_life(t, X, coverage=1.5), "coverage"),
        (lambda m, X, t: HealthIndex(failure_level=0.5).fit(X, t), "failure_level"),
        (lambda m, X, t: HealthIndex().fit(X[:5], t[:5]), "normal"),
    ],
)
def test_bad_input_names_the_field(call, field: str) -> None:  # type: ignore[no-untyped-def]
    X, t = _machine(9)
    model = _fitted(X, t)
    with pytest.raises(InvalidInput) as info:
        call(model, X, t)
    assert info.value.field == field
