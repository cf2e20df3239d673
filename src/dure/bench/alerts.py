"""`dure bench alerts`: how long from a reading that breaks a rule being stored to its alert
being stored and readable, on the embedded default (SQLite) with the real job runner.

A healthy feed writes one reading per channel every ``1/rate_hz`` seconds while faults
(one reading twelve sigmas out) are injected on the channels in turn, each after a random
pause; after each alert is seen it is closed, so the next fault opens a new one. Alerts
on a channel other than the injected faults' are counted as false alerts; the machine's
cross-channel alert is counted apart (faults on several channels within a few seconds
do break the channels' usual relation).
"""

from __future__ import annotations

import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from dure.bench.common import machine, peak_rss_mb
from dure.domain.alerts import AlertStatus
from dure.domain.plant import Asset, SensorChannel
from dure.services.platform.accounts import create_org, system_caller
from dure.services.platform.jobs import JobRunner
from dure.services.platform.model_files import InspectorCache
from dure.settings import Settings
from dure.store.repositories.sensor_readings import ReadingColumns
from dure.store.session import Store

SIGMA = 0.1
CENTRE = 2.0
BASELINE = 200


def _write(store: Store, caller: Any, channel_ids: list[str], values: np.ndarray, ts: int) -> None:
    with store.session(caller) as s:
        s.readings.insert(
            ReadingColumns(
                channel_ids,
                np.arange(len(channel_ids), dtype=np.int32),
                np.full(len(channel_ids), ts, dtype=np.int64),
                np.asarray(values, dtype=np.float64),
            )
        )


def run_alert_bench(
    faults: int = 120, channels: int = 10, rate_hz: float = 1.0, seed: int = 0
) -> dict[str, Any]:
    """Inject ``faults`` faults into a live feed of ``channels`` channels; JSON results."""
    rng = np.random.default_rng(seed)
    with tempfile.TemporaryDirectory() as home:
        settings = Settings(home=Path(home))
        store = Store.open(settings)
        with store.system() as s:
            org = create_org(s, "Bench Press Shop", "supplier", "bench-press")
        caller = system_caller(org)
        with store.session(caller) as s:
            asset = s.assets.add(Asset(org_id=org.id, name="press-1"))
            asset_id = asset.id
            ids = [
                s.channels.add(SensorChannel(org_id=org.id, asset_id=asset.id, name=f"ch{k}")).id
                for k in range(channels)
            ]
        start_us = int((time.time() - BASELINE / rate_hz - 5) * 1e6)
        for i in range(BASELINE):  # the history the checks learn from
            ts = start_us + int(i * 1e6 / rate_hz)
            _write(store, caller, ids, rng.normal(CENTRE, SIGMA, channels), ts)
        runner = JobRunner(store, Path(home) / "work", InspectorCache(store.blobs, Path(home)))
        runner.start()
        stop = threading.Event()

        def feed() -> None:
            feed_rng = np.random.default_rng(seed + 1)
            while not stop.wait(1 / rate_hz):
                values = feed_rng.normal(CENTRE, SIGMA, channels)
                _write(store, caller, ids, values, int(time.time() * 1e6))

        feeder = threading.Thread(target=feed, daemon=True)
        feeder.start()
        time.sleep(3)  # the history is checked (learned) before the first fault
        stored_ms, seen_ms, missed = [], [], 0
        injected: set[str] = set()
        try:
            for k in range(faults):
                time.sleep(float(rng.uniform(0.3, 1.0)))
                channel = ids[k % channels]
                fault_ts = int(time.time() * 1e6) + 1
                _write(store, caller, [channel], np.array([CENTRE + 12 * SIGMA]), fault_ts)
                t0 = time.perf_counter()
                wall0 = time.time()
                alert = None
                while time.perf_counter() - t0 < 30:
                    with store.session(caller, read_only=True) as s:
                        found = [
                            a
                            for a in s.alerts.list(status=AlertStatus.OPEN.value).items
                            if a.subject_id == channel and a.rule.startswith("WE1")
                        ]
                    if found:
                        alert = found[0]
                        break
                    time.sleep(0.01)
                if alert is None:
                    missed += 1
                    continue
                seen_ms.append((time.perf_counter() - t0) * 1000)
                stored_ms.append(max(alert.first_at.timestamp() - wall0, 0.0) * 1000)
                injected.add(alert.id)
                with store.session(caller) as s:
                    s.alerts.set_status(alert.id, AlertStatus.CLOSED)
        finally:
            stop.set()
            feeder.join(5)
            runner.stop()
        with store.session(caller, read_only=True) as s:
            others = [a for a in s.alerts.list_all() if a.id not in injected]
    seen = np.array(seen_ms)
    return {
        "benchmark": "alerts",
        "protocol": (
            f"{channels} channels fed at {rate_hz} Hz (SQLite, the job runner's checks "
            f"lane); {faults} faults of 12 sigma injected in turn after 0.3-1.0 s pauses; "
            "latency from the fault's commit to its alert being readable"
        ),
        "machine": machine(),
        "peak_rss_mb": peak_rss_mb(),
        "faults": faults,
        "missed": missed,
        "false_alerts": len([a for a in others if a.subject_id != asset_id]),
        "machine_alerts": len([a for a in others if a.subject_id == asset_id]),
        "false_alert_messages": [a.message for a in others][:20],
        "seen_ms": {
            "p50": float(np.percentile(seen, 50)) if len(seen) else None,
            "p95": float(np.percentile(seen, 95)) if len(seen) else None,
            "p99": float(np.percentile(seen, 99)) if len(seen) else None,
            "max": float(seen.max()) if len(seen) else None,
        },
        "stored_ms_p50": float(np.percentile(stored_ms, 50)) if stored_ms else None,
    }
