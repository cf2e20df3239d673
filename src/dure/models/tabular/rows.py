"""Rows of named process parameters as the tabular models take them."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from dure.errors import InvalidInput


def feature_names_for(X: np.ndarray, names: Sequence[str] | None) -> list[str]:
    """The parameter names of ``X``'s columns (``x0``, ``x1``, … when none are given)."""
    if names is not None:
        return list(names)
    shape = np.shape(X)
    return [f"x{i}" for i in range(shape[1] if len(shape) == 2 else 0)]


def checked_rows(X: np.ndarray, names: Sequence[str]) -> np.ndarray:
    """Rows as floats; NaN (not measured) is allowed, inf is named by column and row."""
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[1] != len(names):
        raise InvalidInput("X", f"expected (rows, {len(names)}) values, got {X.shape}")
    if np.isinf(X).any():
        row, col = np.argwhere(np.isinf(X))[0]
        raise InvalidInput(names[col], f"row {row} is infinite")
    return X
