"""Keeps one `dure connect run` process per enabled connector, for every organisation.

Started by `dure up`: connectors configured over the API begin to run within a few
seconds, are restarted when their process dies (the broker redelivers whatever was not
acknowledged) and when their configuration changes, and stopped when disabled.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
from dataclasses import dataclass

from dure.settings import Settings
from dure.store.session import Store

log = logging.getLogger("dure.connectors")


@dataclass
class _Running:
    process: subprocess.Popen[bytes]
    digest: str


class ConnectorSupervisor:
    """Reconciles running connector processes with the enabled connectors every poll."""

    def __init__(self, store: Store, settings: Settings, poll_s: float = 3.0) -> None:
        self.store, self.settings, self.poll_s = store, settings, poll_s
        self.running: dict[str, _Running] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Begin reconciling on a background thread."""
        self._thread = threading.Thread(target=self._loop, name="dure-connectors", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop every connector process (each finishes its batch) and the thread."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        for connector_id in list(self.running):
            self._end(connector_id)

    def reconcile(self) -> None:
        """Start, restart or stop processes so that exactly the enabled connectors run."""
        with self.store.system() as system:
            wanted = {
                cid: (name, slug, digest) for cid, name, slug, digest in system.connectors.enabled()
            }
        for connector_id in list(self.running):
            current = self.running[connector_id]
            gone = connector_id not in wanted or wanted[connector_id][2] != current.digest
            if gone or current.process.poll() is not None:
                if current.process.poll() is not None:
                    log.warning(
                        "connector %s exited (%s); restarting",
                        connector_id,
                        current.process.returncode,
                    )
                self._end(connector_id)
        for connector_id, (name, slug, digest) in wanted.items():
            if connector_id not in self.running:
                self.running[connector_id] = _Running(self._spawn(name, slug), digest)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.reconcile()
            except Exception:  # noqa: BLE001 - keep supervising; the store may be back soon
                log.exception("connector supervision failed; retrying")
            self._stop.wait(self.poll_s)

    def _spawn(self, name: str, slug: str) -> subprocess.Popen[bytes]:
        env = self.settings.child_environment(DURE_SUPERVISOR_PID=str(os.getpid()))
        logs = self.settings.home / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        out = open(logs / f"connector-{slug}-{name}.log", "ab")  # noqa: SIM115 - the child owns it
        command = [sys.executable, "-m", "dure.cli", "connect", "run", name, "--org", slug]
        log.info("starting connector %s of %s", name, slug)
        return subprocess.Popen(command, env=env, stdout=out, stderr=out)

    def _end(self, connector_id: str) -> None:
        process = self.running.pop(connector_id).process
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
