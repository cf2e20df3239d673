"""The stream pipeline: take a batch, decode it, store it (or spool it), then acknowledge.

A message is acknowledged to its source only after the store committed it or the disk
spool holds it, so a crash at any point loses nothing the sender was told is safe; the
store de-duplicates by message id, so redeliveries are stored once. While the spool holds
anything, new batches queue behind it: readings of a channel reach the store in the order
they arrived. When the spool is full, batches are no longer acknowledged and the broker
stops sending (its receive maximum is the back-pressure). While the store is down, the
spool is retried with a doubling pause (``retry_s`` up to ``max_retry_s``); the outage is
logged when it starts, every minute while it lasts, and when the store is back.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol

import numpy as np

from dure.domain.connectors import StreamMessage, StreamRejection
from dure.errors import StoreUnavailable
from dure.ingest.streams.config import StreamPolicy
from dure.ingest.streams.payloads import PayloadError, check_readings, excerpt
from dure.ingest.streams.spool import DiskSpool, SpoolFull

log = logging.getLogger("dure.ingest")


class Incoming(NamedTuple):
    """One item from a source: what to acknowledge, where it came from, what it holds."""

    token: Any
    topic: str
    payload: bytes | StreamMessage | StreamRejection
    received_us: int


class Arrivals:
    """What a source's own thread receives, handed out in arrival order, in batches."""

    def __init__(self) -> None:
        self._items: collections.deque[Incoming] = collections.deque()
        self._arrived = threading.Event()

    def __len__(self) -> int:
        return len(self._items)

    def push(self, item: Incoming) -> None:
        """Add one item (called on the source's thread)."""
        self._items.append(item)
        if not self._arrived.is_set():  # setting takes a lock: only when someone waits
            self._arrived.set()

    def take(self, max_items: int, window_s: float, stop: threading.Event) -> list[Incoming]:
        """Up to ``max_items`` items: waits for the first, then at most ``window_s`` more."""
        if not self._items:
            self._arrived.clear()
            if not self._arrived.wait(0.2) or stop.is_set():
                return []
        deadline = time.monotonic() + window_s
        while len(self._items) < max_items and time.monotonic() < deadline:
            time.sleep(min(0.002, window_s))
        items = self._items
        return [items.popleft() for _ in range(min(max_items, len(items)))]


class Source(Protocol):
    """A live source: items arrive on its own thread; ``ack`` confirms them."""

    def start(self) -> None: ...
    def take(self, max_items: int, window_s: float, stop: threading.Event) -> list[Incoming]: ...
    def ack(self, tokens: Sequence[Any]) -> None: ...
    def stop(self) -> None: ...
    def describe(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class WriteResult:
    """What one batch did to the store."""

    messages: int = 0
    duplicates: int = 0
    readings: int = 0
    late: int = 0
    rejected: int = 0


class Sink(Protocol):
    """Where batches go: one transaction per batch, duplicates by message id skipped."""

    def write(
        self, messages: list[StreamMessage], rejections: list[StreamRejection]
    ) -> WriteResult: ...
    def heartbeat(self, status: dict[str, Any]) -> None: ...


Decoder = Callable[[Incoming], tuple[StreamMessage | None, list[StreamRejection]]]


@dataclass
class StreamStats:
    """Counters since start, and the end-to-end lag of recent readings."""

    received: int = 0
    stored_messages: int = 0
    duplicates: int = 0
    readings: int = 0
    late: int = 0
    rejected: int = 0
    spooled_batches: int = 0
    forwarded_batches: int = 0
    store_errors: int = 0
    last_error: str = ""
    started_at: float = field(default_factory=time.time)
    last_received_at: float | None = None  # epoch seconds of the newest message taken
    _lag_ms: np.ndarray = field(default_factory=lambda: np.full(200_000, np.nan))
    _lag_at: int = 0

    def add_lags(self, lags_ms: np.ndarray) -> None:
        """Remember recent lags (commit time minus reading time) in a ring."""
        n = len(self._lag_ms)
        lags_ms = lags_ms[-n:]
        self._lag_ms[(self._lag_at + np.arange(lags_ms.size)) % n] = lags_ms
        self._lag_at += lags_ms.size

    def add(self, result: WriteResult) -> None:
        """Count one stored batch."""
        self.stored_messages += result.messages
        self.duplicates += result.duplicates
        self.readings += result.readings
        self.late += result.late
        self.rejected += result.rejected

    def as_dict(self) -> dict[str, Any]:
        """The counters and lag percentiles, JSON-ready."""
        lags = self._lag_ms[~np.isnan(self._lag_ms)]
        out = {k: v for k, v in self.__dict__.items() if not k.startswith("_")}
        out["lag_ms"] = (
            {
                "p50": float(np.percentile(lags, 50)),
                "p99": float(np.percentile(lags, 99)),
                "max": float(lags.max()),
                "n": int(lags.size),
            }
            if lags.size
            else None
        )
        return out


class StreamPipeline:
    """Moves items from a source to a sink, through the spool when the sink is down."""

    def __init__(
        self,
        source: Source,
        decoder: Decoder,
        sink: Sink,
        spool: DiskSpool,
        policy: StreamPolicy,
        *,
        clock_us: Callable[[], int] = lambda: time.time_ns() // 1000,
        heartbeat_s: float = 2.0,
        retry_s: float = 1.0,
        max_retry_s: float = 8.0,
    ) -> None:
        self.source, self.decoder, self.sink, self.spool = source, decoder, sink, spool
        self.policy = policy
        self.clock_us = clock_us
        self.heartbeat_s = heartbeat_s
        self.retry_s, self.max_retry_s = retry_s, max(retry_s, max_retry_s)
        self.stats = StreamStats()
        self._stop = threading.Event()
        self._next_retry = 0.0
        self._next_beat = 0.0
        self._pause = retry_s  # before the next try of a store that is down
        self._down_since: float | None = None
        self._down_logged = 0.0

    def stop(self) -> None:
        """Ask ``run`` to finish its current batch and return."""
        self._stop.set()

    def run(self, until: Callable[[StreamStats], bool] | None = None) -> StreamStats:
        """Process until stopped (or ``until(stats)`` is true); returns the final counters."""
        self.source.start()
        try:
            while not self._stop.is_set():
                self._forward_spool()
                items = self.source.take(
                    self.policy.batch_max_messages, self.policy.batch_max_ms / 1000, self._stop
                )
                if items:
                    self._handle(items)
                self._beat()
                if until is not None and until(self.stats):
                    break
        finally:
            self.source.stop()
            self._beat(force=True)
        return self.stats

    def _handle(self, items: list[Incoming]) -> None:
        self.stats.received += len(items)
        if items:
            self.stats.last_received_at = time.time()
        messages: list[StreamMessage] = []
        rejections: list[StreamRejection] = []
        now = self.clock_us()
        for item in items:
            try:
                message, refused = self.decoder(item)
            except PayloadError as exc:
                payload = item.payload if isinstance(item.payload, bytes) else b""
                rejections.append(
                    StreamRejection(str(exc), item.received_us, item.topic, "", excerpt(payload))
                )
                continue
            rejections.extend(refused)
            if message is not None:
                message, bad = check_readings(message, self.policy, now)
                rejections.extend(bad)
                messages.append(message)
        while not self._store_or_spool(messages, rejections):
            # Spool full and store down: the batch stays unacknowledged and the broker
            # holds the rest (back-pressure); on stop it is redelivered after restart.
            if self._stop.is_set():
                return
            time.sleep(self._pause)
            self._forward_spool(force=True)
        self.source.ack([item.token for item in items if item.token is not None])

    def _store_or_spool(
        self, messages: list[StreamMessage], rejections: list[StreamRejection]
    ) -> bool:
        if len(self.spool) == 0:
            try:
                self._write(messages, rejections)
                return True
            except StoreUnavailable as exc:
                self._note_error(exc)
        try:
            self.spool.append(messages, rejections)
            self.stats.spooled_batches += 1
            return True
        except (SpoolFull, OSError) as exc:  # full, or the disk itself failing
            self._note_error(exc)
            return False

    def _write(self, messages: list[StreamMessage], rejections: list[StreamRejection]) -> None:
        result = self.sink.write(messages, rejections)
        if self._down_since is not None:
            log.warning(
                "store reachable again after %.1f s; forwarding %d spooled batches",
                time.monotonic() - self._down_since,
                len(self.spool),
            )
            self._down_since, self._pause = None, self.retry_s
        self.stats.add(result)
        done = self.clock_us()
        times = np.fromiter((r.ts_us for m in messages for r in m.readings), dtype=np.int64)
        if times.size:
            self.stats.add_lags((done - times) / 1000.0)

    def _forward_spool(self, force: bool = False) -> None:
        if len(self.spool) == 0 or (not force and time.monotonic() < self._next_retry):
            return
        try:
            for path, messages, rejections in self.spool.oldest():
                self._write(messages, rejections)
                self.spool.remove(path)
                self.stats.forwarded_batches += 1
        except StoreUnavailable as exc:
            self._note_error(exc)
            self._next_retry = time.monotonic() + self._pause
            self._pause = min(self._pause * 2, self.max_retry_s)

    def _note_error(self, exc: Exception) -> None:
        self.stats.store_errors += 1
        self.stats.last_error = str(exc)[:500]
        now = time.monotonic()
        if self._down_since is None:
            self._down_since = self._down_logged = now
            log.warning("store unavailable, spooling (retrying with backoff): %s", exc)
        elif now - self._down_logged >= 60:
            self._down_logged = now
            log.warning(
                "store still unavailable after %.0f s, %d batches spooled: %s",
                now - self._down_since,
                len(self.spool),
                exc,
            )

    def _beat(self, force: bool = False) -> None:
        if not force and time.monotonic() < self._next_beat:
            return
        self._next_beat = time.monotonic() + self.heartbeat_s
        status = self.stats.as_dict()
        status["spool_batches"] = len(self.spool)
        status["spool_bytes"] = self.spool.bytes
        status["source"] = self.source.describe()
        try:
            self.sink.heartbeat(status)
        except StoreUnavailable:
            pass
