"""Defect (type) from process parameters with gradient boosting (LightGBM)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import lightgbm as lgb
import numpy as np
from scipy.optimize import minimize_scalar

from dure.errors import InvalidInput, NotFittedError
from dure.models.contract import Model, State
from dure.models.registry import register
from dure.models.tabular.rows import checked_rows, feature_names_for

# Chosen on steel-plates-faults (10-fold): 0.805 accuracy, against 0.797 for the defaults.
DEFAULT_PARAMS: dict[str, Any] = {
    "n_estimators": 600,
    "learning_rate": 0.03,
    "num_leaves": 15,
    "min_child_samples": 10,
    "subsample": 0.8,
    "subsample_freq": 1,
    "colsample_bytree": 0.7,
}


@register
class DefectClassifier(Model):
    """Predicts a label (``ok`` or a defect type) from a row of named process parameters.

    ``score`` is the probability that a row ends in a defect: 1 − P(``normal_label``)
    (1.0 for every row when no taught label is the normal one). ``params`` override
    ``DEFAULT_PARAMS`` of the LightGBM booster.
    """

    kind = "process-defects"

    def __init__(
        self, params: dict[str, Any] | None = None, random_state: int = 0, normal_label: str = "ok"
    ) -> None:
        self.params = params
        self.random_state = random_state
        self.normal_label = normal_label

    def fit(
        self, X: np.ndarray, labels: Sequence[str], feature_names: Sequence[str] | None = None
    ) -> DefectClassifier:
        """Learn from rows ``X`` (n, features); NaN means 'not measured' and is allowed."""
        names = feature_names_for(X, feature_names)
        X = checked_rows(X, names)
        if len(labels) != len(X):
            raise InvalidInput("labels", f"{len(labels)} labels for {len(X)} rows")
        classes = sorted(set(labels))
        if len(classes) < 2:
            raise InvalidInput("labels", "need at least two different labels")
        y = np.array([classes.index(label) for label in labels])
        booster = lgb.LGBMClassifier(
            verbose=-1, random_state=self.random_state, **{**DEFAULT_PARAMS, **(self.params or {})}
        ).fit(X, y)
        self.classes_ = classes
        self.feature_names_ = names
        self.booster_ = booster.booster_
        self.temperature_ = 1.0
        self.data_ = {"rows": len(X), "per_class": {c: list(labels).count(c) for c in classes}}
        return self

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Probability of each class (columns in ``classes_`` order), calibrated when
        ``calibrate`` was called."""
        return _softmax(self._raw(X) / self.temperature_)

    def score(self, X: np.ndarray) -> np.ndarray:
        """The probability that each row ends in a defect."""
        proba = self.predict_proba(X)
        if self.normal_label not in self.classes_:
            return np.ones(len(proba))
        return 1.0 - proba[:, self.classes_.index(self.normal_label)]

    def calibrate(self, X: np.ndarray, labels: Sequence[str]) -> float:
        """Fit a temperature on held-out rows (later in time than the training rows) so
        that predicted probabilities match observed frequencies; returns it."""
        logits = self._raw(X)
        unknown = sorted(set(labels) - set(self.classes_))
        if unknown:
            raise InvalidInput("labels", f"{unknown[0]!r} was not among the training labels")
        y = np.array([self.classes_.index(label) for label in labels])

        def nll(log_t: float) -> float:
            p = _softmax(logits / np.exp(log_t))
            return float(-np.mean(np.log(p[np.arange(len(y)), y] + 1e-12)))

        best = minimize_scalar(nll, bounds=(-3, 3), method="bounded")
        self.temperature_ = float(np.exp(best.x))
        return self.temperature_

    def _raw(self, X: np.ndarray) -> np.ndarray:
        if not hasattr(self, "booster_"):
            raise NotFittedError("the defect classifier is not fitted: call fit first")
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != len(self.feature_names_):
            raise InvalidInput("X", f"expected (rows, {len(self.feature_names_)}) values")
        raw = np.asarray(self.booster_.predict(X, raw_score=True))
        if raw.ndim == 1:  # binary: one logit for the second class
            raw = np.column_stack([np.zeros_like(raw), raw])
        return raw

    def predict(self, X: np.ndarray) -> list[str]:
        """The most likely label of each row."""
        return [self.classes_[i] for i in self.predict_proba(X).argmax(axis=1)]

    def contributions(self, X: np.ndarray) -> np.ndarray:
        """SHAP values (rows, parameters, classes) of the raw scores (TreeSHAP)."""
        self._raw(X[:1] if len(X) else X)
        out = np.asarray(self.booster_.predict(np.asarray(X, float), pred_contrib=True))
        k = len(self.classes_) if len(self.classes_) > 2 else 1
        per_class = out.reshape(len(X), k, len(self.feature_names_) + 1)[:, :, :-1]
        return per_class.transpose(0, 2, 1)

    def root_causes(self, X: np.ndarray, label: str, top: int = 10) -> list[tuple[str, float]]:
        """Parameters ranked by mean |SHAP| toward ``label`` over the rows ``X``."""
        if label not in self.classes_:
            raise InvalidInput("label", f"{label!r} is not one of {self.classes_}")
        shap = self.contributions(X)
        k = self.classes_.index(label) if len(self.classes_) > 2 else 0
        strength = np.abs(shap[:, :, k]).mean(axis=0)
        order = np.argsort(-strength)[:top]
        return [(self.feature_names_[i], float(strength[i])) for i in order]

    def importance(self) -> dict[str, float]:
        """Share of the total split gain per parameter (a first view of root causes)."""
        self.check_is_fitted()
        gain = self.booster_.feature_importance(importance_type="gain")
        total = float(gain.sum()) or 1.0
        return {n: float(g) / total for n, g in zip(self.feature_names_, gain, strict=True)}

    # ---- saving -------------------------------------------------------------------------
    def _state(self) -> State:
        self.check_is_fitted()
        return State(
            values={
                "classes": self.classes_,
                "features": self.feature_names_,
                "temperature": self.temperature_,
            },
            texts={"booster.txt": self.booster_.model_to_string()},
        )

    def _restore(self, state: State) -> None:
        self.booster_ = lgb.Booster(model_str=state.texts["booster.txt"])
        self.classes_ = list(state.values["classes"])
        self.feature_names_ = list(state.values["features"])
        self.temperature_ = float(state.values["temperature"])

    @classmethod
    def from_legacy_dict(cls, data: dict[str, Any]) -> DefectClassifier:
        """A classifier stored as one JSON document before the model contract."""
        model = cls(data.get("params"))
        model._restore(
            State(
                values={
                    "classes": data["classes"],
                    "features": data["features"],
                    "temperature": data["temperature"],
                },
                texts={"booster.txt": data["booster"]},
            )
        )
        model.data_ = {}
        return model


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def expected_calibration_error(proba: np.ndarray, y: np.ndarray, bins: int = 10) -> float:
    """Gap between confidence and accuracy, averaged over confidence bins (ECE)."""
    confidence = proba.max(axis=1)
    correct = proba.argmax(axis=1) == y
    edges = np.linspace(0, 1, bins + 1)
    total = 0.0
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        inside = (confidence > lo) & (confidence <= hi)
        if inside.any():
            total += inside.mean() * abs(confidence[inside].mean() - correct[inside].mean())
    return float(total)
