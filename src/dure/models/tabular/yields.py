"""Yield (or any continuous quality figure) from process parameters, with root causes.

LightGBM regression; root causes come from SHAP values, which LightGBM computes exactly
for its trees (TreeSHAP, ``pred_contrib``): each parameter's contribution to each
prediction, summing with the base value to the prediction.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import lightgbm as lgb
import numpy as np

from dure.errors import InvalidInput, NotFittedError

# Chosen on chem-proc-yield (10-fold x 3): R^2 0.66; 176 batches need small, slow trees.
YIELD_PARAMS: dict[str, Any] = {
    "n_estimators": 500,
    "learning_rate": 0.02,
    "num_leaves": 7,
    "min_child_samples": 5,
    "subsample": 0.8,
    "subsample_freq": 1,
    "colsample_bytree": 0.5,
    "reg_lambda": 1.0,
}


def checked_rows(X: np.ndarray, names: Sequence[str]) -> np.ndarray:
    """Rows as floats; NaN (not measured) is allowed, inf is named by column and row."""
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[1] != len(names):
        raise InvalidInput("X", f"expected (rows, {len(names)}) values, got {X.shape}")
    if np.isinf(X).any():
        row, col = np.argwhere(np.isinf(X))[0]
        raise InvalidInput(names[col], f"row {row} is infinite")
    return X


class YieldRegressor:
    """fit(X, y, names) -> self; predict(X); contributions(X) (SHAP); root_causes(X)."""

    def __init__(self, params: dict[str, Any] | None = None, random_state: int = 0) -> None:
        self.params = {**YIELD_PARAMS, **(params or {})}
        self.random_state = random_state

    def fit(self, X: np.ndarray, y: np.ndarray, feature_names: Sequence[str]) -> YieldRegressor:
        """Learn from rows ``X`` and their outcome ``y`` (finite numbers)."""
        X = checked_rows(X, feature_names)
        y = np.asarray(y, dtype=np.float64)
        if y.shape != (len(X),):
            raise InvalidInput("y", f"{y.shape[0] if y.ndim else 0} outcomes for {len(X)} rows")
        if not np.isfinite(y).all():
            raise InvalidInput("y", f"row {int(np.flatnonzero(~np.isfinite(y))[0])} has no outcome")
        self.feature_names_ = list(feature_names)
        self.model_ = lgb.LGBMRegressor(verbose=-1, random_state=self.random_state, **self.params)
        self.model_.fit(X, y)
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        """The predicted outcome of each row."""
        self._fitted()
        return self.model_.predict(checked_rows(X, self.feature_names_))  # type: ignore[no-any-return]

    def contributions(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """SHAP values (rows, parameters) and the base value of each row."""
        self._fitted()
        out = self.model_.predict(checked_rows(X, self.feature_names_), pred_contrib=True)
        return out[:, :-1], out[:, -1]

    def root_causes(self, X: np.ndarray, top: int = 10) -> list[tuple[str, float]]:
        """Parameters ranked by mean |SHAP| over ``X``: what moves the outcome most."""
        shap, _ = self.contributions(X)
        strength = np.abs(shap).mean(axis=0)
        order = np.argsort(-strength)[:top]
        return [(self.feature_names_[i], float(strength[i])) for i in order]

    def _fitted(self) -> None:
        if not hasattr(self, "model_"):
            raise NotFittedError("the yield model is not fitted: call fit first")
