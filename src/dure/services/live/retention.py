"""How long connectors remember stored message ids: pruning the ids past the window.

A message id is kept so that a redelivery of the message is recognised and its readings
are not stored twice. Past the retention window (``Settings.stream_retention_days``) no
redelivery can come, so the id is deleted, a bounded batch per transaction so that the
ingest writer never waits long for the store.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from dure.domain.users import Caller
from dure.store.session import Store

log = logging.getLogger("dure.connectors")

BATCH = 10_000
DAY_US = 86_400 * 1_000_000


def _now_us() -> int:
    return time.time_ns() // 1000


def cutoff_us(retention_days: float, now_us: int) -> int:
    """Message ids received before this instant are past the window."""
    return now_us - int(retention_days * DAY_US)


def prune_all(
    store: Store, retention_days: float, *, now_us: int | None = None, batch: int = BATCH
) -> int:
    """Forget every connector's message ids older than the window, ``batch`` rows per
    transaction; how many went."""
    before = cutoff_us(retention_days, _now_us() if now_us is None else now_us)
    total = 0
    while True:
        with store.system() as system:
            gone = system.connectors.forget_before(before, batch)
        total += gone
        if gone < batch:
            return total


class MessageRetention:
    """Prunes one connector's old message ids from its running ingest process: at most one
    batch per call, and once caught up, again only after ``every_s``."""

    def __init__(
        self,
        store: Store,
        connector_id: str,
        retention_days: float,
        *,
        every_s: float = 600.0,
        batch: int = BATCH,
        clock_us: Callable[[], int] = _now_us,
    ) -> None:
        self.store, self.connector_id = store, connector_id
        self.retention_days, self.every_s, self.batch = retention_days, every_s, batch
        self.clock_us = clock_us
        self.pruned = 0
        self._next = 0.0

    def prune_some(self, caller: Caller) -> int:
        """One bounded batch when due (StoreUnavailable when the store is down); how many
        ids went."""
        if time.monotonic() < self._next:
            return 0
        before = cutoff_us(self.retention_days, self.clock_us())
        with self.store.session(caller) as session:
            gone = session.connectors.forget_before(self.connector_id, before, self.batch)
        self.pruned += gone
        if gone < self.batch:  # caught up: rest until the next round
            self._next = time.monotonic() + self.every_s
        if gone:
            log.info("connector %s: forgot %d message ids past the window", self.connector_id, gone)
        return gone
