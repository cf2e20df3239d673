"""`dure bench ingest`: bulk sensor-reading import speed and memory, per format and backend."""

from __future__ import annotations

import multiprocessing as mp
import platform
import resource
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

CHANNELS = 10


def make_files(rows: int, folder: Path) -> dict[str, Path]:
    """A CSV and a Parquet file of ``rows`` readings of 10 channels of one press."""
    per = -(-rows // CHANNELS)
    start = int(datetime(2025, 1, 1, tzinfo=UTC).timestamp() * 1e6)
    ts = np.tile(start + np.arange(per, dtype=np.int64) * 100_000, CHANNELS)[:rows]
    chan = np.repeat(np.arange(CHANNELS), per)[:rows]
    rng = np.random.default_rng(0)
    table = pa.table(
        {
            "asset": pa.array(["press-800t"] * rows),
            "channel": pa.array([f"ch{c:02d}" for c in range(CHANNELS)]).take(pa.array(chan)),
            "time": pa.array(ts, type=pa.timestamp("us", tz="UTC")),
            "value": pa.array(np.round(rng.normal(0, 1, rows), 5)),
        }
    )
    csv_path, parquet_path = folder / "readings.csv", folder / "readings.parquet"
    pacsv.write_csv(table, csv_path)
    pq.write_table(table, parquet_path)
    return {"csv": csv_path, "parquet": parquet_path}


def _one_run(path: str, backend_url: str, home: str, queue: Any) -> None:
    from dure.domain.plant import Asset
    from dure.services.imports.files import import_sensor_file
    from dure.services.platform.accounts import create_org, system_caller
    from dure.settings import Settings
    from dure.store.session import Store

    settings = Settings(home=Path(home), database_url=backend_url or None)
    store = Store.open(settings)
    with store.system() as s:
        org = create_org(s, "Bench Co", "supplier", f"bench-{int(time.time() * 1e6) % 10**9}")
    with store.session(system_caller(org)) as s:
        s.assets.add(Asset(org_id=org.id, name="press-800t"))
    data = Path(path).read_bytes()
    started = time.perf_counter()
    with store.session(system_caller(org)) as s:
        result = import_sensor_file(s, data, Path(path).name)
    seconds = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    queue.put({"seconds": seconds, "rows_new": result.rows_new, "peak_rss_mb": peak_mb})


def run_ingest_bench(rows: int, postgres_url: str | None, workdir: Path | None) -> dict[str, Any]:
    """Run every (format, backend) pair in a fresh process; returns the JSON-ready results."""
    scratch = Path(workdir or tempfile.mkdtemp(prefix="dure-bench-"))
    scratch.mkdir(parents=True, exist_ok=True)
    files = make_files(rows, scratch)
    backends = {"sqlite": ""}
    if postgres_url:
        backends["postgresql"] = postgres_url
    ctx = mp.get_context("spawn")
    runs = []
    for fmt, path in files.items():
        for backend, url in backends.items():
            home = scratch / f"home-{fmt}-{backend}"
            if backend == "postgresql":
                _reset_postgres(url)
            queue = ctx.Queue()
            proc = ctx.Process(target=_one_run, args=(str(path), url, str(home), queue))
            proc.start()
            result = queue.get(timeout=3600)
            proc.join()
            runs.append(
                {
                    "format": fmt,
                    "backend": backend,
                    "rows": rows,
                    **result,
                    "rows_per_s": rows / result["seconds"],
                    "file_mb": path.stat().st_size / 1e6,
                }
            )
    return {
        "benchmark": "ingest",
        "what": "sensor readings (asset, channel, time, value) from one file into an empty store, "
        "parse + validate + channel lookup + insert + commit, one process",
        "machine": {
            "cpus": mp.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "runs": runs,
    }


def _reset_postgres(url: str) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    engine.dispose()
