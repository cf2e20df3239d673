"""`dure bench stream`: a real Mosquitto on loopback -> `dure connect run` -> the store.

Reports messages/s and readings/s until the last message is stored, end-to-end latency
(send time to commit, measured by the ingest) and loss (messages sent minus message ids
stored, checked by count). The ingest runs as its own process, like in production.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from dure.bench.common import machine
from dure.bench.mosquitto import Mosquitto
from dure.bench.mqtt_load import publish
from dure.settings import child_environment

TOPIC = "bench/press7/data"


def run_stream_bench(
    messages: int,
    rate: float,
    values_per_message: int,
    fmt: str,
    database_url: str | None,
    workdir: Path | None,
) -> dict[str, Any]:
    """One run; returns the JSON-ready results."""
    from dure.domain.plant import Asset
    from dure.services.live.connectors import save_connector
    from dure.services.platform.accounts import create_org, system_caller
    from dure.settings import Settings
    from dure.store.session import Store

    scratch = Path(workdir or tempfile.mkdtemp(prefix="dure-stream-"))
    scratch.mkdir(parents=True, exist_ok=True)
    home = scratch / f"home-{int(time.time())}"
    broker = Mosquitto(scratch / f"broker-{int(time.time())}")
    broker.start()
    settings = Settings(home=home, database_url=database_url)
    store = Store.open(settings)
    slug = f"bench-{int(time.time() * 1000) % 10**9}"
    with store.system() as s:
        org = create_org(s, "Stream Bench", "supplier", slug)
    channels = [f"ch{c}" for c in range(values_per_message)]
    rule = {"filter": TOPIC, "asset": "press7", "format": fmt}
    if fmt == "binary":
        rule["channels"] = channels
    config = {
        "host": "127.0.0.1",
        "port": broker.port,
        "client_id": f"dure-{slug}",
        "topics": [rule],
    }
    with store.session(system_caller(org)) as s:
        s.assets.add(Asset(org_id=org.id, name="press7"))
        connector = save_connector(s, "bench", "mqtt", config)
    stats_file = home / "ingest-stats.json"
    env = child_environment(
        {"DURE_HOME": str(home), **({"DURE_DATABASE_URL": database_url} if database_url else {})}
    )
    ingest = subprocess.Popen(
        [sys.executable, "-m", "dure.cli", "connect", "run", "bench", "--org", slug,
         "--stats-out", str(stats_file)],
        env=env, stdout=subprocess.DEVNULL, stderr=open(home / "ingest.log", "wb"),
    )  # fmt: skip
    try:
        _wait(lambda: _status(store, org, connector.id).get("source", {}).get("connected"), 30)
        ctx = mp.get_context("spawn")
        queue = ctx.Queue()
        load = ctx.Process(
            target=publish,
            args=(broker.port, TOPIC, messages, rate, values_per_message, fmt, queue),
        )
        load.start()
        stored = _wait_stored(store, org, connector.id, messages)
        done_wall = time.time()
        sent = queue.get(timeout=120)
        load.join(timeout=30)
    finally:
        ingest.send_signal(signal.SIGTERM)
        ingest.wait(timeout=60)
        broker.stop()
    ingest_stats = json.loads(stats_file.read_text()) if stats_file.exists() else {}
    seconds = done_wall - sent["wall_start"]
    readings = _count_readings(store, org)
    return {
        "benchmark": "stream",
        "machine": machine(),
        "backend": "postgresql" if database_url else "sqlite",
        "format": fmt,
        "values_per_message": values_per_message,
        "target_rate": rate,
        "messages_sent": sent["sent"],
        "messages_acked_by_broker": sent["acked"],
        "messages_stored": stored,
        "readings_stored": readings,
        "loss": sent["sent"] - stored,
        "seconds": seconds,
        "messages_per_s": stored / seconds,
        "readings_per_s": readings / seconds,
        "publisher_seconds": sent["send_s"],
        "latency_ms": ingest_stats.get("lag_ms"),
        "ingest": {k: ingest_stats.get(k) for k in ("received", "duplicates", "rejected", "late")},
    }


def _wait(condition, timeout_s: float) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the ingest process did not connect to the broker")
        time.sleep(0.1)


def _status(store, org, connector_id: str) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    from dure.services.platform.accounts import system_caller

    with store.session(system_caller(org)) as s:
        return s.connectors.get(connector_id).status  # type: ignore[no-any-return]


def _stored(store, org, connector_id: str) -> int:  # type: ignore[no-untyped-def]
    from dure.services.platform.accounts import system_caller

    with store.session(system_caller(org)) as s:
        return s.connectors.count_stored(connector_id)  # type: ignore[no-any-return]


def _wait_stored(store, org, connector_id: str, expected: int) -> int:  # type: ignore[no-untyped-def]
    last, last_change = -1, time.monotonic()
    while True:
        stored = _stored(store, org, connector_id)
        if stored >= expected:
            return stored
        if stored != last:
            last, last_change = stored, time.monotonic()
        elif time.monotonic() - last_change > 30:
            return stored  # stalled: report the loss rather than wait for ever
        time.sleep(0.05)


def _count_readings(store, org) -> int:  # type: ignore[no-untyped-def]
    from sqlalchemy import func, select

    from dure.store.tables import sensor_readings

    with store.engine.begin() as conn:
        return int(conn.execute(select(func.count()).select_from(sensor_readings)).scalar_one())
