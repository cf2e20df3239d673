"""Fault test of the line-side runtime (the issue's acceptance test for `dure edge`).

A real site (`dure up --no-demo` subprocess) with a taught model; an enrolled edge box
(`dure edge run` subprocess) fed a steady stream of camera images (tmp + rename, ~10/s).
The box is killed with SIGKILL ``DURE_EDGE_KILLS`` times (default 10) at random moments and
restarted, then the site is stopped for ``DURE_EDGE_OUTAGE_S`` seconds (default 60) while
the feed goes on. Every fed image must end up as exactly one inspection record on the site.
Prints the per-image latency p50/p99 (image taken -> verdict out) over every result.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from dure.cli import main
from dure.domain.edge import source_key
from dure.edge.sources import result_id
from dure.edge.spool import ResultSpool
from dure.edge.stats import percentile
from dure.services.demo.sheet_metal import sheet_image
from dure.settings import Settings
from dure.store.session import Store
from tests.factories import World
from tests.ingest.live import wait_for
from tests.services.inspection_world import SIZE, engineer_of_a, png
from tests.services.test_kill_nine import Server

KILLS = int(os.environ.get("DURE_EDGE_KILLS", "10"))
OUTAGE_S = float(os.environ.get("DURE_EDGE_OUTAGE_S", "60"))
RATE = 10.0  # images per second
# the box's interpreter: a slim install (scripts/edge-venv.sh DIR -> DIR/bin/python) proves
# the runtime needs no torch; by default the test's own
EDGE_PYTHON = os.environ.get("DURE_EDGE_PYTHON", sys.executable)


class Feeder:
    """Drops camera images into the inbox at a steady rate, as a camera does."""

    def __init__(self, inbox: Path) -> None:
        self.inbox = inbox
        self.pool = [png(sheet_image(700 + k, "scratch" if k % 5 == 4 else "good", SIZE).pixels)
                     for k in range(25)]  # fmt: skip
        self.fed: dict[str, bytes] = {}
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        k = 0
        while not self._stop.is_set():
            name, data = f"F{k:05d}.png", self.pool[k % len(self.pool)]
            tmp = self.inbox / f"{name}.tmp"
            tmp.write_bytes(data)
            os.replace(tmp, self.inbox / name)
            self.fed[name] = data
            k += 1
            self._stop.wait(1 / RATE)

    def stop(self) -> None:
        self._stop.set()
        self.thread.join(10)


def start_edge(config: Path, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [EDGE_PYTHON, "-m", "dure.cli", "edge", "run", "--config", str(config), "-v"],
            stdout=out,
            stderr=out,
        )


@pytest.mark.slow
@pytest.mark.edge
def test_kill_9_and_a_site_outage_leave_exactly_one_record_per_image(
    settings: Settings, store: Store, world: World, trained: str, tmp_path: Path
) -> None:
    site = Server(settings, tmp_path / "site.log")
    site.start()
    home, inbox = tmp_path / "box", tmp_path / "inbox"
    inbox.mkdir()
    token = tmp_path / "engineer.token"
    token.write_text(world.a.tokens["engineer"])
    enrolled = CliRunner().invoke(
        main,
        ["edge", "enrol", "--site", site.url, "--token-file", str(token), "--name", "press-7",
         "--model", trained, "--home", str(home)],
    )  # fmt: skip
    assert enrolled.exit_code == 0, enrolled.output
    edge_id = json.loads((home / "edge.json").read_text())["edge_id"]
    config = tmp_path / "edge.toml"
    config.write_text(
        f'home = "{home}"\nmodel_poll_s = 2\nstatus_every_s = 0.5\n'
        f'[input]\nfolder = "{inbox}"\npoll_s = 0.02\n'
    )
    log = tmp_path / "edge.log"
    edge = start_edge(config, log)
    feeder = Feeder(inbox)
    try:
        wait_for(
            lambda: (home / "models" / "current").exists(), 180, "the box's first model package"
        )
        feeder.thread.start()
        rng = random.Random(17)
        for _ in range(KILLS):
            time.sleep(rng.uniform(1.0, 3.0))
            assert edge.poll() is None, log.read_text()[-3000:]
            edge.send_signal(signal.SIGKILL)
            edge.wait()
            edge = start_edge(config, log)
        time.sleep(2)
        site.stop()
        time.sleep(OUTAGE_S)
        site.start()
        time.sleep(3)
        feeder.stop()
        fed = dict(feeder.fed)
        wait_for(lambda: not any(inbox.iterdir()), 300, "the inbox to empty")
        spool = ResultSpool(home / "spool")

        def all_sent() -> bool:
            counts = spool.counts()
            return counts["pending"] == 0 and counts["sent"] >= len(fed)

        wait_for(all_sent, 300, f"{len(fed)} results forwarded")
        counts, latencies = spool.counts(), spool.latencies()
        spool.close()
        wait_for(lambda: json.loads((home / "status.json").read_text())["images"] > 0, 30, "status")
        rss = json.loads((home / "status.json").read_text())["rss_mb"]
    finally:
        feeder.stop()
        if edge.poll() is None:
            edge.terminate()
            edge.wait(20)
        site.stop()
    keys = {name: source_key(edge_id, result_id(edge_id, name, data)) for name, data in fed.items()}
    with store.session(engineer_of_a(world), read_only=True) as s:
        records = s.inspections.made_from(list(keys.values()))
        everything = [
            r
            for r in s.inspections.list_own()
            if (r.source_key or "").startswith(f"edge:{edge_id}:")
        ]
    assert counts == {"pending": 0, "sent": len(fed), "refused": 0}
    assert len(records) == len(fed), f"{len(fed) - len(records)} images have no record"
    assert len(everything) == len(fed), "some image has more than one record"
    assert sorted(r.serial for r in everything) == sorted(fed)
    p50, p99 = percentile(latencies, 50), percentile(latencies, 99)
    print(
        f"\nedge fault test: {len(fed)} images fed, {KILLS} x kill -9, {OUTAGE_S:.0f} s site "
        f"outage -> {len(records)} records, 0 missing, 0 doubled; "
        f"latency per image p50 {p50:.1f} ms, p99 {p99:.1f} ms; box RSS {rss:.0f} MB "
        f"({EDGE_PYTHON})"
    )
