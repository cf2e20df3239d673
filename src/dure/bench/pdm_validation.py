"""Settings of the RUL estimator chosen on training engines held out for validation.

Nothing here sees a test engine. Per seed the 100 run-to-failure training engines are
split by engine into ``FOLDS`` folds; each fold in turn is held out while the others
teach, and its engines are cut at random points as the test engines are: after the
fault's onset, which the protocol puts 125 cycles before failure (NASA's readme: test
engines stop after their fault has developed), each history kept to at least
``MIN_CYCLES`` cycles (the shortest test history), ``CUTS`` cuts per engine, the target
capped at 125 cycles. A trial's figure is the RMSE pooled over every fold's held-out
cuts: one 20-engine split alone is noisier than the differences between settings
(its folds' RMSEs range over 4 cycles). Settings are chosen one after the other
(coordinate search in ``SEARCH``'s order, each step keeping the best so far), with
``TRIAL_MEMBERS`` networks per trial to keep the search bounded.
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
FOLDS = 5
CUTS = 10
MIN_CYCLES = 31
TRIAL_MEMBERS = 1
#: (parameter, values tried), in the order they are chosen, starting from the model's
#: defaults (the first value of each); ties keep the earlier value.
SEARCH: tuple[tuple[str, tuple[Any, ...]], ...] = (
    ("relative", (True, False)),
    ("age", (True, False)),
    ("arch", ("gru", "cnn")),
    ("smoothing", (0.3, 0.6)),
    ("cap", (125.0, 130.0, 120.0)),
    ("epochs", (30, 20)),
)

PROTOCOL = (
    f"settings chosen per seed on the training engines only: split by engine (seeded) into "
    f"{FOLDS} folds, each held out in turn while the others teach, its engines cut at "
    f"{CUTS} random points each after the fault's onset as the protocol puts it (at most "
    f"{SCORING_CAP:g} cycles before failure; at least {MIN_CYCLES} cycles kept, as the "
    f"shortest test history), true remaining life capped at {SCORING_CAP:g}. "
    f"Coordinate search in the order {[name for name, _ in SEARCH]} over "
    f"{dict(SEARCH)}, {TRIAL_MEMBERS} networks per trial, on validation RMSE (ties: the "
    "earlier value); then the chosen settings "
    "are refitted on all 100 training engines and the test engines are scored once."
)


def engine_folds(n: int, seed: int, folds: int = FOLDS) -> list[list[int]]:
    """Engine indices 0..n-1 split by engine (seeded) into ``folds`` disjoint folds."""
    if n < folds:
        raise InvalidInput("train", f"{n} engines cannot be split into {folds} folds")
    order = np.random.default_rng(10_000 + seed).permutation(n)
    return [sorted(order[f::folds].tolist()) for f in range(folds)]


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
    params: dict[str, Any], train: Sequence[np.ndarray], folds: Sequence[Sequence[int]], seed: int
) -> dict[str, Any]:
    """Per fold, fit on the other folds' engines with ``params`` and predict the fold's
    held-out cuts; the figures are pooled over every fold's cuts."""
    started = time.perf_counter()
    predicted, remaining, per_fold = [], [], []
    for f, held in enumerate(folds):
        out = set(held)
        taught = [h for i, h in enumerate(train) if i not in out]
        cuts, left = validation_cuts([train[i] for i in held], seed * len(folds) + f)
        est = RulEstimator(**{**params, "random_state": seed * len(folds) + f}).fit(taught)
        predicted.append(est.predict(cuts))
        remaining.append(left)
        per_fold.append(figures(predicted[-1], left)["rmse"])
    pooled = figures(np.concatenate(predicted), np.concatenate(remaining))
    return {
        "params": dict(params),
        **pooled,
        "rmse_by_fold": per_fold,
        "fit_s": time.perf_counter() - started,
    }


def choose_settings(
    train: Sequence[np.ndarray],
    seed: int,
    base: dict[str, Any] | None = None,
    search: Sequence[tuple[str, Sequence[Any]]] = SEARCH,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The settings chosen on this seed's folds of training engines, and every trial.

    ``base`` overrides the model's defaults as the search's starting point (``members``
    of the final model is not searched: trials use ``TRIAL_MEMBERS``).
    """
    folds = engine_folds(len(train), seed)
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
            result = trial(params, train, folds, seed)
            trials.append(result)
            done[key] = result["rmse"]
        return done[key]

    for name, values in search:
        scored = [(rmse_of({**current, name: v}), i, v) for i, v in enumerate(values)]
        current[name] = min(scored)[2]
    chosen = {k: v for k, v in current.items() if k != "members"}
    return chosen, trials
