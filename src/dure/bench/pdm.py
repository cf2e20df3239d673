"""`dure bench pdm --dataset cmapss`: remaining useful life on NASA C-MAPSS FD001.

Protocol (the data README's): train on the 100 run-to-failure engines, predict the 100
test engines at their last recorded cycle, target capped at 125 cycles, RMSE and the PHM
2008 score, mean and sd over seeds. With ``choose`` the settings are first chosen per
seed on training engines held out for validation (``pdm_validation``); the test engines
are scored once, with the chosen settings. Every run also reports, on validation, the
interval's coverage; on test, the 80 % interval's coverage and width.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from dure.bench.common import machine, peak_rss_mb, summarise
from dure.bench.pdm_validation import PROTOCOL, SCORING_CAP, choose_settings, figures
from dure.errors import InvalidInput
from dure.models.timeseries.rul import RulEstimator

INTERVAL_COVERAGE = 0.8


def load_cmapss(folder: Path, subset: str = "FD001") -> dict[str, Any]:
    """Train histories, test histories and the test engines' true remaining life."""
    paths = [folder / f"{kind}_{subset}.txt" for kind in ("train", "test", "RUL")]
    for path in paths:
        if not path.is_file():
            raise InvalidInput("data-root", f"{path} not found (C-MAPSS {subset} files)")
    train, test = (np.loadtxt(p) for p in paths[:2])
    rul = np.loadtxt(paths[2])

    def by_unit(a: np.ndarray) -> list[np.ndarray]:
        # columns: unit, cycle, 3 operating settings, 21 sensors. FD001 runs at one
        # operating condition, so the settings are noise: the sensors alone are used.
        return [a[a[:, 0] == u][:, 5:] for u in np.unique(a[:, 0])]

    return {"train": by_unit(train), "test": by_unit(test), "test_rul": rul}


def run_one(data: dict[str, Any], seed: int, params: dict[str, Any], choose: bool) -> dict:
    """Choose (optionally), fit on all 100 training engines, score the test engines."""
    validation = None
    if choose:
        started = time.perf_counter()
        chosen, trials = choose_settings(data["train"], seed, params)
        params = {**chosen, **{k: v for k, v in params.items() if k == "members"}}
        validation = {"chosen": chosen, "trials": trials, "search_s": time.perf_counter() - started}
    started = time.perf_counter()
    est = RulEstimator(**{**params, "random_state": seed}).fit(data["train"])
    fit_s = time.perf_counter() - started
    started = time.perf_counter()
    predicted = est.predict(data["test"])
    predict_ms = (time.perf_counter() - started) * 1000 / len(data["test"])
    actual = np.minimum(data["test_rul"], SCORING_CAP)
    low, high = est.predict_interval(data["test"], INTERVAL_COVERAGE)
    return {
        "seed": seed,
        **figures(predicted, data["test_rul"]),
        "interval_coverage": float(np.mean((low <= actual) & (actual <= high))),
        "interval_width": float(np.mean(high - low)),
        "fit_s": fit_s,
        "predict_ms_per_engine": predict_ms,
        "settings": {k: v for k, v in est.get_params().items() if k != "random_state"},
        "validation": validation,
    }


def run_pdm_bench(
    data_root: Path, seeds: int, params: dict[str, Any] | None = None, choose: bool = False
) -> dict[str, Any]:
    """Fit and score once per seed; returns the JSON-ready results.

    ``params`` override the model's defaults (with ``choose``, only ``members`` and the
    starting point of the search).
    """
    torch.set_num_threads(1)  # the figures are for one core; fit_s is comparable
    data = load_cmapss(data_root / "cmapss")
    params = dict(params or {})
    runs = [run_one(data, seed, params, choose) for seed in range(seeds)]
    return {
        "benchmark": "pdm",
        "dataset": "cmapss-FD001",
        "protocol": {
            "test": "fit all 100 run-to-failure engines; score the 100 test engines once at "
            f"their last cycle, true remaining life capped at {SCORING_CAP:g}",
            "validation": PROTOCOL
            if choose
            else "not run: the settings are the model's defaults (chosen by an earlier "
            "--choose run, see RulEstimator's docstring) or those given",
            "chosen_on_test": "nothing",
            "interval": f"{INTERVAL_COVERAGE:g} coverage from out-of-fold errors of the "
            "members on training engines they never learned from",
            "seeds": list(range(seeds)),
        },
        "settings": runs[0]["settings"] if runs else {},
        "machine": machine(),
        "peak_rss_mb": peak_rss_mb(),
        "runs": runs,
        "summary": summarise(
            runs, ["rmse", "phm_score", "mae", "interval_coverage", "interval_width", "fit_s"]
        ),
    }
