"""Fault test of live ingestion: PostgreSQL itself stops mid-stream (not a fake sink).

A publisher sends a steady QoS-1 stream through a real Mosquitto to the ingest process
(`dure connect run`), which stores into its own throw-away PostgreSQL cluster. The
server is stopped (`pg_ctl stop -m fast`) for DURE_FAULT_PG_OUTAGE_S seconds (20) and
started again. The ingest process must live through it (spooling to disk, acknowledging
nothing it has not made durable, reconnecting when the server is back), and every message
the publisher got an acknowledgement for must be stored exactly once.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from dure.bench.mosquitto import Mosquitto
from dure.ports import free_port
from dure.settings import Settings
from dure.store.session import Store
from tests.conftest import BACKEND
from tests.ingest.conftest import need_mosquitto
from tests.ingest.live import wait_for
from tests.ingest.steady_stream import (
    RATE,
    SteadyPublisher,
    assert_each_acknowledged_message_stored_once,
    fault_summary,
    is_acked,
    start_ingest,
)
from tests.ingest.stream_world import press_shop

OUTAGE_S = float(os.environ.get("DURE_FAULT_PG_OUTAGE_S", "20"))
BEFORE_S = float(os.environ.get("DURE_FAULT_PG_BEFORE_S", "5"))
CLUSTER = Path(__file__).resolve().parents[2] / "scripts" / "pg-cluster.sh"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.postgres,
    pytest.mark.skipif(
        BACKEND != "postgresql",
        reason="runs once per make test, in the PostgreSQL pass (it starts its own cluster)",
    ),
]


class Cluster:
    """A throw-away PostgreSQL cluster of this test alone (scripts/pg-cluster.sh)."""

    def __init__(self) -> None:
        # Under /tmp, not tmp_path: the postgres user must reach the folder.
        self.folder = Path(tempfile.mkdtemp(prefix="dure-pg-outage-", dir="/tmp"))
        self.port = free_port()
        self.url = self._script("start", str(self.port)).strip()

    def _script(self, action: str, *args: str) -> str:
        done = subprocess.run(
            ["bash", str(CLUSTER), action, str(self.folder), *args],
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert done.returncode == 0, f"pg-cluster.sh {action}: {done.stderr}"
        return done.stdout

    def halt(self) -> None:
        """Stop the server (pg_ctl stop -m fast); its data stays."""
        self._script("halt")

    def resume(self) -> None:
        """Serve the same data again on the same port."""
        self._script("resume", str(self.port))

    def remove(self) -> None:
        self._script("stop")


@pytest.fixture
def own_cluster() -> Iterator[Cluster]:
    """A PostgreSQL cluster that the test may stop; the suite's shared one is left alone."""
    if not glob.glob("/usr/lib/postgresql/*/bin/initdb"):
        pytest.fail("PostgreSQL is not installed (make test installs it with apt-get)")
    cluster = Cluster()
    yield cluster
    cluster.remove()


def test_postgresql_stopped_mid_stream_loses_and_doubles_nothing(
    own_cluster: Cluster, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    need_mosquitto()
    settings = Settings(home=tmp_path / "home", database_url=own_cluster.url)
    store = Store.open(settings)
    broker = Mosquitto(tmp_path / "broker")
    broker.start()
    shop = press_shop(store, "outage-shop")
    config = {
        "host": "127.0.0.1", "port": broker.port, "client_id": "dure-pg-outage",
        "topics": [{"filter": "plant/+/data", "asset_level": 1}],
    }  # fmt: skip
    connector = shop.connector("line1", "mqtt", config)
    ingest = start_ingest(settings.home, settings.database_url, "outage-shop")
    log = settings.home / "ingest.log"
    pub: SteadyPublisher | None = None
    try:
        wait_for(
            lambda: shop.status(connector.id).get("source", {}).get("connected"), 30, "subscribed"
        )
        t0_us = time.time_ns() // 1000 - 3_600_000_000
        pub = SteadyPublisher(broker.port, t0_us)
        pub.thread.start()
        time.sleep(BEFORE_S)
        store.engine.dispose()  # the test's own connections would only be cut
        own_cluster.halt()
        halted_at = len(pub.sent)
        time.sleep(OUTAGE_S)
        assert ingest.poll() is None, f"ingest died with the database:\n{log.read_text()[-3000:]}"
        during_outage = len(pub.sent) - halted_at
        own_cluster.resume()
        time.sleep(BEFORE_S)
        pub.stop()
        wait_for(lambda: all(is_acked(i) for _, i in pub.sent[-100:]), 60, "the last acks")
        acked = pub.acknowledged()
        with contextlib.suppress(AssertionError):  # a shortfall is counted and shown below
            wait_for(lambda: shop.stored_messages(connector.id) >= len(acked), 60, "all stored")
        time.sleep(1)  # anything still arriving would show up as an excess below
        assert ingest.poll() is None, f"ingest died:\n{log.read_text()[-3000:]}"
        status = shop.status(connector.id)
    finally:
        if pub is not None:
            pub.close()
        ingest.send_signal(signal.SIGTERM)
        ingest.wait(timeout=30)
        broker.stop()

    summary = fault_summary(shop, connector.id, pub, acked)
    store.engine.dispose()
    summary.update(
        postgres_outage_s=OUTAGE_S,
        published_during_outage=during_outage,
        ingest_store_errors=status.get("store_errors"),
        ingest_spooled_batches=status.get("spooled_batches"),
        ingest_forwarded_batches=status.get("forwarded_batches"),
    )
    with capsys.disabled():
        print("\npostgres outage fault test:", json.dumps(summary))
    assert_each_acknowledged_message_stored_once(summary)
    assert during_outage > OUTAGE_S * RATE * 0.5  # the stream flowed while the store was down
    assert status["store_errors"] > 0 and status["spooled_batches"] > 0  # the outage was felt
    assert status["forwarded_batches"] == status["spooled_batches"]  # the spool drained
