"""`dure bench pdm --dataset cmapss`: remaining useful life on NASA C-MAPSS FD001.

Protocol (the data README's): train on the 100 run-to-failure engines, predict the 100
test engines at their last recorded cycle, target capped at 125 cycles, RMSE and the PHM
2008 score, mean and sd over seeds.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from dure.bench.common import machine, peak_rss_mb, summarise
from dure.errors import InvalidInput
from dure.models.timeseries.rul import RulEstimator, phm_score


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


def run_pdm_bench(
    data_root: Path, seeds: int, members: int = 1, epochs: int = 40
) -> dict[str, Any]:
    """Fit and score once per seed; returns the JSON-ready results."""
    data = load_cmapss(data_root / "cmapss")
    runs = []
    for seed in range(seeds):
        started = time.perf_counter()
        est = RulEstimator(members=members, epochs=epochs, random_state=seed).fit(data["train"])
        fit_s = time.perf_counter() - started
        started = time.perf_counter()
        predicted = est.predict(data["test"])
        predict_ms = (time.perf_counter() - started) * 1000 / len(data["test"])
        actual = np.minimum(data["test_rul"], est.cap)
        runs.append(
            {
                "seed": seed,
                "rmse": float(np.sqrt(np.mean((predicted - actual) ** 2))),
                "phm_score": phm_score(predicted, actual),
                "mae": float(np.mean(np.abs(predicted - actual))),
                "fit_s": fit_s,
                "predict_ms_per_engine": predict_ms,
            }
        )
    return {
        "benchmark": "pdm",
        "dataset": "cmapss-FD001",
        "protocol": "fit 100 run-to-failure engines; score 100 test engines at their last cycle",
        "settings": {
            "members": members,
            "epochs": epochs,
            **{
                k: v
                for k, v in RulEstimator().get_params().items()
                if k not in ("random_state", "members", "epochs")
            },
        },
        "machine": machine(),
        "peak_rss_mb": peak_rss_mb(),
        "runs": runs,
        "summary": summarise(runs, ["rmse", "phm_score", "mae", "fit_s"]),
    }
