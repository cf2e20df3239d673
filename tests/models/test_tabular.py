"""The process-data defect classifier: contract, clear errors, importance."""

from __future__ import annotations

import numpy as np
import pytest

from dure.errors import InvalidInput, NotFittedError
from dure.models.tabular.defects import DefectClassifier

NAMES = ["force_kN", "die_temp_C", "speed_spm"]


def _data(n: int = 400) -> tuple[np.ndarray, list[str]]:
    rng = np.random.default_rng(0)
    X = rng.normal([800, 180, 30], [40, 8, 3], (n, 3))
    labels = ["crack" if f > 850 else "ok" for f in X[:, 0]]
    labels = ["burr" if t > 192 else lab for t, lab in zip(X[:, 1], labels, strict=True)]
    return X, labels


def test_learns_the_rule_and_names_its_cause() -> None:
    X, labels = _data()
    model = DefectClassifier({"n_estimators": 100}).fit(X[:300], labels[:300], NAMES)
    predicted = model.predict(X[300:])
    assert np.mean([p == t for p, t in zip(predicted, labels[300:], strict=True)]) >= 0.9
    assert model.classes_ == ["burr", "crack", "ok"]
    importance = model.importance()
    assert importance["speed_spm"] < min(importance["force_kN"], importance["die_temp_C"])
    proba = model.predict_proba(X[:5])
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)


def test_bad_input_is_named() -> None:
    X, labels = _data(50)
    X[7, 1] = np.inf
    with pytest.raises(InvalidInput, match="row 7 is infinite") as caught:
        DefectClassifier().fit(X, labels, NAMES)
    assert caught.value.field == "die_temp_C"
    with pytest.raises(InvalidInput, match="labels"):
        DefectClassifier().fit(X[:5], labels[:3], NAMES)
    with pytest.raises(InvalidInput, match="two different"):
        DefectClassifier().fit(X[:5], ["ok"] * 5, NAMES)
    with pytest.raises(NotFittedError):
        DefectClassifier().predict(X)


def test_missing_values_are_allowed() -> None:
    X, labels = _data(200)
    X[::5, 2] = np.nan
    model = DefectClassifier({"n_estimators": 50}).fit(X, labels, NAMES)
    assert len(model.predict(X[:3])) == 3
