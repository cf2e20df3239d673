"""Time the Process charts and one live part check on a part with a long history.

    PYTHONPATH=src python scripts/bench-long-history.py [records]   (default 100,000)

A fresh SQLite store in a temporary folder; the part's records are one a second with two
parameters. Prints seconds: parameter_charts (median of 3), the Process page's view, and
one live part check run after one new record (median of 3).
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from dure.domain.parts import PartNumber
from dure.domain.records import ProcessRecord
from dure.services.dashboard.process_view import process_view
from dure.services.monitoring.runner import CheckRounds
from dure.services.platform.accounts import create_org, system_caller
from dure.services.process.control_charts import parameter_charts
from dure.settings import Settings
from dure.store.session import Store

START = datetime(2026, 10, 1, tzinfo=UTC)


def records(org_id: str, part_id: str, first: int, n: int) -> list[ProcessRecord]:
    rng = np.random.default_rng(first)
    return [
        ProcessRecord(
            org_id=org_id,
            part_id=part_id,
            recorded_at=START + timedelta(seconds=first + i),
            values={
                "die_temp_C": float(rng.normal(180, 1.5)),
                "force_kN": float(rng.normal(800, 4)),
            },
            serial=f"S{first + i}",
        )
        for i in range(n)
    ]


def main(n: int) -> None:
    home = Path(tempfile.mkdtemp(prefix="dure-bench-"))
    store = Store.open(Settings(home=home))
    with store.system() as s:
        org = create_org(s, "Bench Co", "supplier", "bench-co")
    caller = system_caller(org)
    with store.session(caller) as s:
        part = s.parts.add(PartNumber(org_id=org.id, number="B-1", name="bench"))
        s.process_records.add_new(records(org.id, part.id, 0, n))
    charts = []
    for _ in range(3):
        with store.session(caller, read_only=True) as s:
            started = time.perf_counter()
            parameter_charts(s, part.id)
            charts.append(time.perf_counter() - started)
    with store.session(caller, read_only=True) as s:
        started = time.perf_counter()
        process_view(s, part.id, None)
        view = time.perf_counter() - started
    rounds = CheckRounds(store)
    started = time.perf_counter()
    rounds.run_due()
    first_check = time.perf_counter() - started
    while rounds.run_due():  # a check marked again during its run runs once more
        pass
    checks = []
    for k in range(3):
        with store.session(caller) as s:
            s.process_records.add_new(records(org.id, part.id, n + k, 1))
        started = time.perf_counter()
        rounds.run_due()  # the part's check, pending since the record was stored
        checks.append(time.perf_counter() - started)
    print(
        f"records={n} parameter_charts_s={statistics.median(charts):.3f} "
        f"process_view_s={view:.3f} first_live_check_s={first_check:.3f} "
        f"live_check_s={statistics.median(checks):.3f}"
    )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000)
