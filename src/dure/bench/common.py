"""What every benchmark report carries: mean ± sd over runs, peak memory, the machine."""

from __future__ import annotations

import platform
import resource
import time
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np


def summarise(runs: list[dict[str, Any]], keys: Iterable[str]) -> dict[str, dict[str, float]]:
    """Mean and sd of each key over the runs (runs where it is None are left out)."""
    summary = {}
    for key in keys:
        values = [r[key] for r in runs if r.get(key) is not None]
        if values:
            summary[key] = {"mean": float(np.mean(values)), "sd": float(np.std(values))}
    return summary


def peak_rss_mb() -> float:
    """The largest resident memory this process has used so far, in MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def machine() -> dict[str, str]:
    """Python version and platform the figures were taken on."""
    return {"python": platform.python_version(), "platform": platform.platform()}


def latency_ms(call: Callable[[], object], repeats: int) -> tuple[float, float]:
    """p50 and p99 milliseconds of ``call`` over ``repeats`` runs after one warm-up run."""
    call()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append((time.perf_counter() - start) * 1000)
    return float(np.percentile(times, 50)), float(np.percentile(times, 99))
