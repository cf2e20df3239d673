"""One edge box, assembled from its configuration: source, loop, outputs, spool, forwarder,
model updater and the status file; `dure edge run` calls :func:`run_edge`."""

from __future__ import annotations

import logging
import signal
import threading
from typing import Any

from dure.edge.config import EdgeConfig, FolderInput
from dure.edge.forwarder import Forwarder
from dure.edge.fsio import rejected_files
from dure.edge.identity import device_key, load_identity, read_token
from dure.edge.loop import EdgeLoop, VerdictOutput
from dure.edge.models import ActiveModel, ModelShelf
from dure.edge.outputs import MqttVerdicts, OpcuaGate
from dure.edge.site import SiteClient
from dure.edge.sources import FolderSource, MqttImageSource
from dure.edge.spool import ResultSpool
from dure.edge.stats import EdgeStats, write_status
from dure.edge.updates import ModelUpdater

log = logging.getLogger("dure.edge")


class EdgeRuntime:
    """Everything one `dure edge run` holds; start(), then loop.run() (or run_forever())."""

    def __init__(self, config: EdgeConfig, transport: Any = None) -> None:
        self.config = config
        home = config.home
        self.identity = load_identity(home)
        private_pem, _ = device_key(home)
        site_url = config.site_url or self.identity.site_url
        token = read_token(config.token_file or self.identity.token_file)
        self.site = SiteClient(site_url, token, transport=transport)
        self.spool = ResultSpool(home / "spool", max_bytes=config.max_spool_bytes)
        self.stats = EdgeStats()
        inp = config.input
        self.source: FolderSource | MqttImageSource
        if isinstance(inp, FolderInput):
            self.source = FolderSource(inp.folder, home / "rejected", inp.poll_s)
        else:
            self.source = MqttImageSource(inp.host, inp.port, inp.topic, inp.client_id)
        out = config.outputs
        self.mqtt_out = (
            MqttVerdicts(
                out.mqtt_host,
                out.mqtt_port,
                out.mqtt_topic,
                f"dure-edge-{self.identity.edge_id}-out",
            )
            if out.mqtt_host and out.mqtt_topic
            else None
        )
        self.gate = (
            OpcuaGate(out.opcua_endpoint, out.opcua_reject_node, out.opcua_score_node)
            if out.opcua_endpoint and out.opcua_reject_node
            else None
        )
        outputs: list[VerdictOutput] = [o for o in (self.mqtt_out, self.gate) if o is not None]
        self.forwarder = Forwarder(
            self.spool, self.site, self.identity, private_pem, keep_days=config.keep_days,
            rejected=home / "rejected",
        )  # fmt: skip
        self.loop = EdgeLoop(
            self.identity.edge_id, self.source, self.spool, outputs, self.stats,
            on_result=self.forwarder.wake,
        )  # fmt: skip
        self.shelf = ModelShelf(home / "models", self.identity)
        self.updater = ModelUpdater(
            self.shelf, self.site, self.identity.edge_id, self.use,
            self.loop.active_package, every_s=config.model_poll_s, threads=config.threads,
        )  # fmt: skip
        self._status_stop = threading.Event()
        self._status_thread = threading.Thread(
            target=self._status_run, name="edge-status", daemon=True
        )

    def start(self) -> None:
        """Load the current model, then start outputs, source, forwarder, updater, status."""
        current = self.shelf.current()
        if current:
            try:
                self.use(self.shelf.load(current, threads=self.config.threads))
            except Exception as exc:  # noqa: BLE001 - the updater may bring a good one
                log.error("the installed model %s cannot be loaded: %s", current, exc)
        for part in (self.mqtt_out, self.gate):
            if part is not None:
                part.start()
        self.source.start()
        self.forwarder.start()
        self.updater.start()
        self._status_thread.start()

    def use(self, model: ActiveModel) -> None:
        """Inspect with ``model`` from the next image on, and tell the site how it scored
        its package's golden set here."""
        self.loop.switch(model)
        self.forwarder.report_parity(model.parity)

    def stop(self) -> None:
        """Stop every part (the spool keeps what was not forwarded)."""
        self.loop.stop()
        self.updater.stop()
        self.forwarder.stop()
        self.source.stop()
        for part in (self.mqtt_out, self.gate):
            if part is not None:
                part.stop()
        self._status_stop.set()
        if self._status_thread.is_alive():
            self._status_thread.join(timeout=10)
        self.write_status()
        self.site.close()
        self.spool.close()

    def status(self) -> dict[str, Any]:
        """The box's state for status.json."""
        counts = self.spool.counts()
        return {
            "edge_id": self.identity.edge_id,
            "site": self.site.base_url,
            "package_id": self.loop.active_package(),
            "parity": None if self.loop.model is None else self.loop.model.parity,
            **self.stats.as_dict(),
            "spool": {
                **counts,
                "depth": counts["pending"],
                "pending_bytes": self.spool.pending_bytes,
                "rejected_files": len(rejected_files(self.config.home / "rejected")),
            },
            "forwarder": {
                "posts": self.forwarder.posts,
                "outages": self.forwarder.outages,
                "site_down": self.forwarder.down_since is not None,
                "last_error": self.forwarder.last_error,
            },
            "model_updates": {
                "refused": self.updater.refused,
                "last_error": self.updater.last_error,
            },
            "plc": None
            if self.gate is None
            else {
                "connected": self.gate.connected,
                "written": self.gate.written,
                "dropped": self.gate.dropped,
            },
        }

    def write_status(self) -> None:
        """Write home/status.json now."""
        try:
            write_status(self.config.home, self.status())
        except Exception:  # noqa: BLE001 - status is best effort
            log.exception("writing status.json failed")

    def _status_run(self) -> None:
        while not self._status_stop.wait(self.config.status_every_s):
            self.write_status()


def run_edge(config: EdgeConfig) -> None:
    """Run until SIGTERM or Ctrl-C."""
    runtime = EdgeRuntime(config)
    runtime.start()
    signal.signal(signal.SIGTERM, lambda *_: runtime.loop.stop())
    log.info("edge %s running (site %s)", runtime.identity.edge_id, runtime.site.base_url)
    try:
        runtime.loop.run()
    except KeyboardInterrupt:
        pass
    finally:
        runtime.stop()
