"""Run one connector: its source, the disk spool under the data folder, the store sink
(which also prunes the connector's message ids past the retention window)."""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Callable

from dure.domain.connectors import Connector, ConnectorKind
from dure.ingest.streams.mqtt import MqttSource, mqtt_decoder
from dure.ingest.streams.opcua import OpcuaSource, opcua_decoder
from dure.ingest.streams.pipeline import StreamPipeline, StreamStats
from dure.ingest.streams.spool import DiskSpool
from dure.services.live.connectors import typed_config
from dure.services.live.retention import MessageRetention
from dure.services.live.sink import StoreSink
from dure.settings import Settings
from dure.store.session import Store

log = logging.getLogger(__name__)
ORPHAN_CHECK_S = 1.0


def build_pipeline(store: Store, settings: Settings, connector: Connector) -> StreamPipeline:
    """The pipeline of ``connector``; its spool lives in ``home/spool/<connector id>``."""
    config = typed_config(connector)
    if connector.kind is ConnectorKind.MQTT:
        source, decoder = MqttSource(config), mqtt_decoder(config)  # type: ignore[arg-type]
    else:
        source, decoder = OpcuaSource(config), opcua_decoder  # type: ignore[arg-type,assignment]
    spool = DiskSpool(settings.home / "spool" / connector.id, config.policy.spool_max_mb << 20)
    retention = MessageRetention(store, connector.id, settings.stream_retention_days)
    sink = StoreSink(store, connector, config.policy, retention)
    return StreamPipeline(source, decoder, sink, spool, config.policy)


def run_connector(
    store: Store,
    settings: Settings,
    connector: Connector,
    until: Callable[[StreamStats], bool] | None = None,
) -> StreamStats:
    """Run until SIGTERM/SIGINT (or ``until``); the current batch finishes first."""
    pipeline = build_pipeline(store, settings, connector)
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: pipeline.stop())
    if settings.supervisor_pid is not None:
        _stop_when_orphaned(settings.supervisor_pid, pipeline.stop)
    return pipeline.run(until)


def _stop_when_orphaned(supervisor_pid: int, stop: Callable[[], None]) -> None:
    """Stop (as on SIGTERM) once the `dure up` that started this connector is gone: a
    killed server must not leave connectors running beside the ones its restart starts."""

    def watch() -> None:
        while os.getppid() == supervisor_pid:
            time.sleep(ORPHAN_CHECK_S)
        log.warning(
            "the dure up that started this connector (pid %d) is gone: stopping", supervisor_pid
        )
        stop()

    threading.Thread(target=watch, name="dure-orphan-watch", daemon=True).start()
