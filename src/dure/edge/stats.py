"""What the box reports about itself: per-image latency percentiles, memory, spool depth,
written to ``home/status.json`` (tmp + rename) for `dure edge status` and monitoring."""

from __future__ import annotations

import json
import math
import os
import threading
import time
from collections import deque
from pathlib import Path
from typing import Any

from dure.edge.fsio import write_atomic

WINDOW = 10_000  # the latest images the percentiles are taken over


def percentile(values: list[float], q: float) -> float | None:
    """The ``q``-th percentile (nearest rank) of ``values``; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, math.ceil(q / 100 * len(ordered)) - 1))
    return ordered[rank]


def rss_mb() -> float | None:
    """This process's resident memory in MB (Linux /proc), or None elsewhere."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


class EdgeStats:
    """Counters and the latency window, safe to read from another thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._latency: deque[float] = deque(maxlen=WINDOW)
        self.started = time.time()
        self.images = 0
        self.defects = 0
        self.rejected = 0
        self.duplicates = 0

    def inspected(self, latency_ms: float, is_defect: bool) -> None:
        """Count one inspected image."""
        with self._lock:
            self._latency.append(latency_ms)
            self.images += 1
            self.defects += int(is_defect)

    def latency(self) -> dict[str, Any]:
        """p50/p99 of the latest images (ms, from the image taken to the verdict out)."""
        with self._lock:
            values = list(self._latency)
        return {
            "n": len(values),
            "p50_ms": percentile(values, 50),
            "p99_ms": percentile(values, 99),
        }

    def as_dict(self) -> dict[str, Any]:
        """The counters."""
        return {
            "images": self.images,
            "defects": self.defects,
            "rejected": self.rejected,
            "already_recorded": self.duplicates,
            "latency": self.latency(),
            "rss_mb": rss_mb(),
            "pid": os.getpid(),
            "uptime_s": round(time.time() - self.started, 1),
        }


def write_status(home: Path, status: dict[str, Any]) -> None:
    """Write ``home/status.json`` atomically."""
    write_atomic(Path(home) / "status.json", json.dumps(status, indent=2, default=str).encode())


def read_status(home: Path) -> dict[str, Any] | None:
    """The last status the runtime wrote, or None."""
    path = Path(home) / "status.json"
    if not path.exists():
        return None
    return json.loads(path.read_text())  # type: ignore[no-any-return]
