"""Settings of the RUL estimator chosen on training engines held out for validation.

Nothing here sees a test engine. Per seed the 100 run-to-failure training engines are
split by engine: 80 teach, 20 are held out and cut at random points as the test engines
are: after the fault's onset, which the protocol puts 125 cycles before failure (NASA's
readme: test engines stop after their fault has developed), each history kept to at
least ``MIN_CYCLES`` cycles (the shortest test history), ``CUTS`` cuts per engine, the
target capped at 125 cycles. Settings are chosen one after the other (coordinate
search in ``SEARCH``'s order, each step keeping the best so far) on the held-out
engines' RMSE, with ``TRIAL_MEMBERS`` networks per trial to keep the search bounded.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from dure.errors import InvalidInput
from dure.models.timeseries.rul import RulEstimator, phm_score

#: The protocol's cap on the true remaining life when scoring (validation and test).
SCORING_CAP = 125.0
HELD_OUT = 0.2
CUTS = 10
MIN_CYCLES = 31
TRIAL_MEMBERS = 1
#: (parameter, values tried), in the order they are chosen, starting from the model's
#: defaults (the first value of each); ties keep the earlier value.
SEARCH: tuple[tuple[str, tuple[Any, ...]], ...] = (
    ("age", (True, False)),
    ("arch", ("gru", "cnn")),
    ("smoothing", (0.3, 0.6)),
    ("cap", (125.0, 130.0, 120.0)),
    ("epochs", (30, 20)),
)

PROTOCOL = (
    f"settings chosen per seed on the training engines only: {int(100 * (1 - HELD_OUT))} % "
    f"of them (by engine, seeded) teach, {int(100 * HELD_OUT)} % are held out and cut at "
    f"{CUTS} random points each after the fault's onset as the protocol puts it (at most "
    f"{SCORING_CAP:g} cycles before failure; at least {MIN_CYCLES} cycles kept, as the "
    f"shortest test history), true remaining life capped at {SCORING_CAP:g}. "
    f"Coordinate search in the order {[name for name, _ in SEARCH]} over "
    f"{dict(SEARCH)}, {TRIAL_MEMBERS} networks per trial, on validation RMSE (ties: the "
    "earlier value); then the chosen settings "
    "are refitted on all 100 training engines and the test engines are scored once."
)


def split_engines(n: int, seed: int) -> tuple[list[int], list[int]]:
    """(taught, held out) engine indices for a seed."""
    order = np.random.default_rng(10_000 + seed).permutation(n)
    held = int(round(n * HELD_OUT))
    return sorted(order[held:].tolist()), sorted(order[:held].tolist())


def validation_cuts(
    histories: Sequence[np.ndarray], seed: int
) -> tuple[list[np.ndarray], np.ndarray]:
    """Held-out histories cut as test engines are, and their true remaining life.

    Test engines stop after their fault has developed (NASA's readme), and the protocol
    puts the fault's onset ``SCORING_CAP`` cycles before failure: each cut leaves at most
    that many cycles to run (and keeps at least ``MIN_CYCLES``, where the history allows).
    """
    rng = np.random.default_rng(20_000 + seed)
    cut, remaining = [], []
    for h in histories:
        low = min(max(MIN_CYCLES, len(h) - int(SCORING_CAP)), len(h))
        for c in rng.integers(low, len(h) + 1, size=CUTS):
            cut.append(h[:c])
            remaining.append(len(h) - c)
    return cut, np.array(remaining, dtype=np.float64)


def figures(predicted: np.ndarray, remaining: np.ndarray) -> dict[str, float]:
    """RMSE, PHM score and MAE against the true remaining life capped at 125."""
    actual = np.minimum(remaining, SCORING_CAP)
    return {
        "rmse": float(np.sqrt(np.mean((predicted - actual) ** 2))),
        "phm_score": phm_score(predicted, actual),
        "mae": float(np.mean(np.abs(predicted - actual))),
    }


def trial(
    params: dict[str, Any],
    taught: Sequence[np.ndarray],
    held: tuple[list[np.ndarray], np.ndarray],
    seed: int,
) -> dict[str, Any]:
    """Fit on the taught engines with ``params`` and score the held-out cuts."""
    started = time.perf_counter()
    est = RulEstimator(**{**params, "random_state": seed}).fit(taught)
    out = figures(est.predict(held[0]), held[1])
    return {"params": dict(params), **out, "fit_s": time.perf_counter() - started}


def choose_settings(
    train: Sequence[np.ndarray],
    seed: int,
    base: dict[str, Any] | None = None,
    search: Sequence[tuple[str, Sequence[Any]]] = SEARCH,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The settings chosen on this seed's held-out training engines, and every trial.

    ``base`` overrides the model's defaults as the search's starting point (``members``
    of the final model is not searched: trials use ``TRIAL_MEMBERS``).
    """
    taught_i, held_i = split_engines(len(train), seed)
    taught = [train[i] for i in taught_i]
    held = validation_cuts([train[i] for i in held_i], seed)
    current = {**RulEstimator().get_params(), **(base or {}), "members": TRIAL_MEMBERS}
    for name, values in search:
        if name not in current or name in ("members", "random_state"):
            raise InvalidInput("search", f"{name!r} is not a setting the search can choose")
        if len(values) == 0:
            raise InvalidInput("search", f"{name!r} has no values to try")
    current.pop("random_state")
    trials: list[dict[str, Any]] = []
    done: dict[str, float] = {}

    def rmse_of(params: dict[str, Any]) -> float:
        key = repr(sorted(params.items()))
        if key not in done:
            result = trial(params, taught, held, seed)
            trials.append(result)
            done[key] = result["rmse"]
        return done[key]

    for name, values in search:
        scored = [(rmse_of({**current, name: v}), i, v) for i, v in enumerate(values)]
        current[name] = min(scored)[2]
    chosen = {k: v for k, v in current.items() if k != "members"}
    return chosen, trials
