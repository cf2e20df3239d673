"""The RUL bench's validation protocol: held-out engines never teach, they are cut as test
engines are (after the fault's onset), every trial is recorded and the best validation RMSE wins."""

from __future__ import annotations

import numpy as np
import pytest

from dure.bench.pdm_validation import (
    MIN_CYCLES,
    choose_settings,
    engine_folds,
    validation_cuts,
)
from dure.errors import InvalidInput

FAST = {"window": 10, "epochs": 4, "cap": 60.0, "width": 8}


def _engines(n: int, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        life = int(rng.integers(60, 120))
        wear = np.exp(np.linspace(0, 3, life)) - 1
        out.append(np.column_stack([10 + wear + rng.normal(0, 0.3, life), rng.normal(0, 1, life)]))
    return out


def test_held_out_engines_never_teach_and_are_cut_as_test_engines_are() -> None:
    folds = engine_folds(100, 3)
    assert [len(f) for f in folds] == [20] * 5
    assert sorted(i for f in folds for i in f) == list(range(100))  # disjoint, all held once
    assert engine_folds(100, 4) != folds  # every seed splits anew
    with pytest.raises(InvalidInput, match="train: 3 engines cannot be split into 5 folds"):
        engine_folds(3, 0)
    engines = _engines(5, 0)
    cut, remaining = validation_cuts(engines, 0)
    assert len(cut) == len(remaining) == 5 * 10
    for i, (h, r) in enumerate(zip(cut, remaining, strict=True)):
        full = engines[i // 10]
        assert MIN_CYCLES <= len(h) <= len(full)
        np.testing.assert_array_equal(h, full[: len(h)])
        assert r == len(full) - len(h)
    long = [np.zeros((300, 2))]
    cut, remaining = validation_cuts(long, 1)
    assert remaining.max() <= 125  # cut after the fault's onset, as test engines are
    assert min(len(h) for h in cut) >= 300 - 125


def test_the_search_records_every_trial_and_keeps_the_best() -> None:
    engines = _engines(20, 1)
    chosen, trials = choose_settings(
        engines, 0, FAST, search=(("smoothing", (0.3, 1.0)), ("age", (True, False)))
    )
    assert len(trials) == 3  # the starting point is tried once
    first = [t for t in trials if t["params"]["age"] is True]
    best_smoothing = min(first, key=lambda t: t["rmse"])["params"]["smoothing"]
    assert chosen["smoothing"] == best_smoothing
    with_smoothing = [t for t in trials if t["params"]["smoothing"] == best_smoothing]
    assert chosen["age"] == min(with_smoothing, key=lambda t: t["rmse"])["params"]["age"]
    assert {"rmse", "phm_score", "mae", "fit_s", "rmse_by_fold"} <= set(trials[0])
    assert len(trials[0]["rmse_by_fold"]) == 5
    assert "members" not in chosen and chosen["window"] == FAST["window"]


def test_a_search_over_an_unknown_setting_is_refused() -> None:
    with pytest.raises(InvalidInput, match="search: 'depth' is not a setting"):
        choose_settings(_engines(5, 0), 0, FAST, search=(("depth", (1, 2)),))
