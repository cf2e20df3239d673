"""Setpoint advice: which controllable parameters to move, within declared limits, and the
predicted gain. A model-based suggestion for an engineer to try, not a proven cause.

Coordinate search: each round tries every controllable parameter at ``grid`` points
across its limits (the others held) and keeps the single best move; at most
``max_moves`` parameters change, so the advice stays something a line can act on.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from dure.errors import InvalidInput


@dataclass(frozen=True)
class Move:
    """Change ``parameter`` from ``current`` to ``advised``."""

    parameter: str
    current: float
    advised: float


@dataclass(frozen=True)
class Advice:
    """The moves, the predicted outcome before and after, and the gain."""

    moves: list[Move]
    predicted_before: float
    predicted_after: float

    @property
    def gain(self) -> float:
        """Predicted improvement of the objective."""
        return self.predicted_after - self.predicted_before


def advise(
    objective: Callable[[np.ndarray], np.ndarray],
    row: np.ndarray,
    names: list[str],
    limits: Mapping[str, tuple[float, float]],
    *,
    max_moves: int = 3,
    grid: int = 21,
    min_gain: float = 0.0,
) -> Advice:
    """Moves of controllable parameters (``limits``: name -> (low, high)) that raise
    ``objective`` (higher is better: yield, or minus the defect probability) for ``row``."""
    row = np.asarray(row, dtype=np.float64).copy()
    if row.shape != (len(names),):
        raise InvalidInput("row", f"expected {len(names)} values, got {row.shape}")
    columns = {}
    for name, (low, high) in limits.items():
        if name not in names:
            raise InvalidInput("limits", f"{name!r} is not one of the model's parameters")
        if not (np.isfinite(low) and np.isfinite(high) and low <= high):
            raise InvalidInput("limits", f"{name!r}: low {low} must be <= high {high}")
        columns[name] = names.index(name)
    before = float(objective(row[None, :])[0])
    current, moves = before, {}
    for _ in range(max_moves):
        best: tuple[float, str, float] | None = None
        for name, col in columns.items():
            if name in moves:
                continue
            low, high = limits[name]
            candidates = np.repeat(row[None, :], grid, axis=0)
            candidates[:, col] = np.linspace(low, high, grid)
            scores = objective(candidates)
            k = int(np.argmax(scores))
            if best is None or scores[k] > best[0]:
                best = (float(scores[k]), name, float(candidates[k, col]))
        if best is None or best[0] <= current + min_gain:
            break
        current, name, value = best
        moves[name] = Move(name, float(row[columns[name]]), value)
        row[columns[name]] = value
    return Advice(list(moves.values()), before, current)
