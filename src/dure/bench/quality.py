"""`dure bench quality`: process-quality models on public tabular data sets."""

from __future__ import annotations

import csv
import time
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import f1_score
from sklearn.model_selection import StratifiedKFold

from dure.bench.common import machine, peak_rss_mb, summarise
from dure.errors import InvalidInput
from dure.models.tabular.defects import DefectClassifier

STEEL_FAULTS = ("Pastry", "Z_Scratch", "K_Scatch", "Stains", "Dirtiness", "Bumps", "Other_Faults")


def read_steel_plates(path: Path) -> tuple[np.ndarray, list[str], list[str]]:
    """Features, fault labels and feature names of the UCI steel-plates-faults file.

    The 7 one-hot fault columns follow the 27 features; they may be unnamed.
    """
    with Path(path).open(newline="") as fh:
        rows = list(csv.reader(fh))
    header, body = rows[0], [r for r in rows[1:] if r]
    names = header[:27]
    data = np.empty((len(body), 34))
    for i, row in enumerate(body, start=2):
        if len(row) != 34:
            raise InvalidInput(str(path), f"row {i} has {len(row)} columns, expected 34")
        try:
            data[i - 2] = [float(v) for v in row]
        except ValueError as exc:
            raise InvalidInput(str(path), f"row {i}: {exc}") from exc
    onehot = data[:, 27:]
    if not np.all(onehot.sum(axis=1) == 1):
        bad = int(np.flatnonzero(onehot.sum(axis=1) != 1)[0]) + 2
        raise InvalidInput(str(path), f"row {bad} does not mark exactly one fault")
    labels = [STEEL_FAULTS[k] for k in onehot.argmax(axis=1)]
    return data[:, :27], labels, names


def run_quality_bench(dataset: str, root: Path, seeds: int = 1, folds: int = 10) -> dict[str, Any]:
    """Stratified k-fold accuracy and macro-F1 of the defect classifier, per seed."""
    if dataset != "steel-plates-faults":
        raise InvalidInput("dataset", f"{dataset!r}: use steel-plates-faults")
    X, labels, names = read_steel_plates(Path(root) / "steel-plates-faults" / "faults.csv")
    y = np.array(labels)
    runs = []
    for seed in range(seeds):
        pred = np.empty(len(y), dtype=object)
        started = time.perf_counter()
        splitter = StratifiedKFold(folds, shuffle=True, random_state=seed)
        for train, test in splitter.split(X, y):
            model = DefectClassifier(random_state=seed).fit(X[train], y[train].tolist(), names)
            pred[test] = model.predict(X[test])
        runs.append(
            {
                "seed": seed,
                "accuracy": float(np.mean(pred == y)),
                "macro_f1": float(f1_score(y, pred.astype(str), average="macro")),
                "seconds": time.perf_counter() - started,
            }
        )
    summary = summarise(runs, ("accuracy", "macro_f1", "seconds"))
    return {
        "benchmark": "quality",
        "dataset": dataset,
        "protocol": {
            "split": f"stratified {folds}-fold, out-of-fold predictions",
            "seeds": list(range(seeds)),
            "rows": len(y),
            "classes": sorted(set(labels)),
            "model": "LightGBM multiclass (dure.models.tabular.defects.DEFAULT_PARAMS)",
        },
        "summary": summary,
        "runs": runs,
        "peak_rss_mb": peak_rss_mb(),
        "machine": machine(),
    }
