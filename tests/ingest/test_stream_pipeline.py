"""The stream pipeline on the real store: once-only storage, acknowledgement after commit,
spooling while the store is down, back-pressure when the spool is full."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from dure.domain.connectors import StreamMessage, StreamRejection
from dure.errors import StoreRefused
from dure.ingest.streams.config import MqttConfig, StreamPolicy
from dure.ingest.streams.mqtt import mqtt_decoder
from dure.ingest.streams.pipeline import Incoming, StoreUnavailable, StreamPipeline, WriteResult
from dure.ingest.streams.spool import DiskSpool
from dure.services.live.connectors import typed_config
from dure.services.live.sink import StoreSink
from dure.store.session import Store
from tests.ingest.stream_world import PressShop, press_shop

T0 = 1_795_400_000_000_000


class ListSource:
    """Hands out prepared batches, one per take; records what was acknowledged, and when."""

    def __init__(self, batches: list[list[Incoming]], log: list[str]) -> None:
        self.batches = list(batches)
        self.acked: list[Any] = []
        self.log = log

    def start(self) -> None: ...
    def stop(self) -> None: ...
    def describe(self) -> dict[str, Any]:
        return {"kind": "list"}

    def take(self, max_items: int, window_s: float, stop: threading.Event) -> list[Incoming]:
        return self.batches.pop(0) if self.batches else []

    def ack(self, tokens: Sequence[Any]) -> None:
        self.log.append(f"ack {len(tokens)}")
        self.acked.extend(tokens)


class Recording(StoreSink):
    """The real sink, logging each commit; ``down`` makes it fail like a stopped server."""

    def __init__(self, *args: Any, log: list[str], down: int = 0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.log, self.down = log, down

    def write(
        self, messages: list[StreamMessage], rejections: list[StreamRejection]
    ) -> WriteResult:
        if self.down > 0:
            self.down -= 1
            raise StoreUnavailable("store: connection refused")
        result = super().write(messages, rejections)
        self.log.append(f"commit {len(messages)}")
        return result


def _item(
    i: int, channel: str = "force", topic: str = "plant/press7/data", **extra: Any
) -> Incoming:
    body = {"id": f"m{i}", "ts_us": T0 + i * 1000, "values": {channel: float(i)}, **extra}
    return Incoming(("g", i), topic, json.dumps(body).encode(), T0 + i * 1000)


def _config(**policy: Any) -> MqttConfig:
    return MqttConfig.model_validate(
        {
            "host": "127.0.0.1",
            "client_id": "t",
            "topics": [{"filter": "plant/+/data", "asset_level": 1}],
            "policy": policy,
        }
    )


def _pipeline(
    shop: PressShop, tmp_path: Path, batches: list[list[Incoming]], down: int = 0, **policy: Any
) -> tuple[StreamPipeline, ListSource, Recording, list[str]]:
    config = _config(**policy)
    connector = shop.connector("line1", "mqtt", config.model_dump(mode="json"))
    config = typed_config(connector)
    log: list[str] = []
    source = ListSource(batches, log)
    sink = Recording(shop.store, connector, config.policy, log=log, down=down)
    spool = DiskSpool(tmp_path / "spool", config.policy.spool_max_mb << 20)
    pipe = StreamPipeline(
        source, mqtt_decoder(config), sink, spool, config.policy,
        clock_us=lambda: T0 + 10**9, retry_s=0.01,
    )  # fmt: skip
    return pipe, source, sink, log


def _until_drained(source: ListSource, pipe: StreamPipeline):  # type: ignore[no-untyped-def]
    return lambda stats: not source.batches and len(pipe.spool) == 0


def test_each_message_is_stored_once_and_acknowledged_after_the_commit(
    store: Store, tmp_path: Path
) -> None:
    shop = press_shop(store)
    batches = [
        [_item(0), _item(1), _item(1)],  # a duplicate inside one batch
        [_item(1), _item(2)],  # a redelivery in a later batch
    ]
    pipe, source, sink, log = _pipeline(shop, tmp_path, batches)
    stats = pipe.run(until=_until_drained(source, pipe))
    assert log == ["commit 3", "ack 3", "commit 2", "ack 2"]
    assert len(source.acked) == 5
    assert [v for _, v in shop.readings("force")] == [0.0, 1.0, 2.0]
    assert shop.stored_messages(sink.connector.id) == 3
    assert (stats.stored_messages, stats.duplicates, stats.readings) == (3, 2, 3)


def test_bad_messages_are_kept_with_their_reason_and_the_good_ones_stored(
    store: Store, tmp_path: Path
) -> None:
    shop = press_shop(store)
    bad_json = Incoming(("g", 9), "plant/press7/data", b"{oops", T0)
    ghost = _item(3, topic="plant/ghost/data")
    nowhere = _item(4, topic="elsewhere")
    batches = [[_item(0), bad_json, ghost, nowhere, _item(1, channel="new_tag")]]
    pipe, source, sink, _ = _pipeline(shop, tmp_path, batches)
    pipe.run(until=_until_drained(source, pipe))
    reasons = [r["reason"] for r in shop.rejects(sink.connector.id)]
    assert any(r.startswith("payload is not JSON") for r in reasons)
    assert any("unknown asset 'ghost'" in r for r in reasons)
    assert any("no topic rule matches 'elsewhere'" in r for r in reasons)
    assert shop.readings("force") == [(T0, 0.0)]
    assert shop.readings("new_tag") == [(T0 + 1000, 1.0)]  # created on first sight
    assert len(source.acked) == 5  # refused messages are handled too: kept, not redelivered
    excerpt = next(r["excerpt"] for r in shop.rejects(sink.connector.id) if "JSON" in r["reason"])
    assert excerpt == "{oops"


def test_unknown_tags_are_refused_when_the_connector_may_not_create_channels(
    store: Store, tmp_path: Path
) -> None:
    shop = press_shop(store)
    pipe, source, sink, _ = _pipeline(
        shop, tmp_path, [[_item(0), _item(1, channel="mystery")]], create_channels=False
    )
    pipe.run(until=_until_drained(source, pipe))
    assert shop.readings("mystery") == []
    assert any(
        "unknown tag: asset 'press7' has no channel 'mystery'" in r["reason"]
        for r in shop.rejects(sink.connector.id)
    )


def test_while_the_store_is_down_batches_are_spooled_then_forwarded_in_order(
    store: Store, tmp_path: Path
) -> None:
    shop = press_shop(store)
    batches = [[_item(i)] for i in range(6)]
    pipe, source, sink, log = _pipeline(shop, tmp_path, batches, down=3)
    stats = pipe.run(until=_until_drained(source, pipe))
    assert stats.spooled_batches >= 2 and stats.forwarded_batches == stats.spooled_batches
    assert [v for _, v in shop.readings("force")] == [float(i) for i in range(6)]
    assert len(source.acked) == 6
    assert stats.late == 0  # forwarded oldest first, new batches queued behind the spool
    assert log.index("ack 1") < log.index("commit 1")  # spooled batches are acked before commit


def test_a_full_spool_stops_acknowledging_until_the_store_is_back(
    store: Store, tmp_path: Path
) -> None:
    shop = press_shop(store)
    pipe, source, sink, log = _pipeline(shop, tmp_path, [[_item(0)]], down=5)
    pipe.spool.max_bytes = 10  # smaller than any batch: nothing can be spooled
    stats = pipe.run(until=_until_drained(source, pipe))
    assert stats.store_errors >= 5 and stats.spooled_batches == 0
    assert log == ["commit 1", "ack 1"]  # held back while nothing was durable
    assert shop.readings("force") == [(T0, 0.0)]


def test_policy_defaults_are_sane() -> None:
    policy = StreamPolicy()
    assert policy.batch_max_ms <= 50 and policy.max_future_s == 300


class Picky(StoreSink):
    """The real sink, whose store refuses one message for its content (as PostgreSQL
    refuses a NUL byte in text)."""

    def _write_batch(self, messages, rejections):  # type: ignore[no-untyped-def]
        if any(m.message_id == "m1" for m in messages):
            raise StoreRefused("text fields cannot contain NUL")
        return super()._write_batch(messages, rejections)


def test_one_message_the_store_refuses_does_not_stop_the_stream(
    store: Store, tmp_path: Path
) -> None:
    shop = press_shop(store)
    pipe, source, sink, _ = _pipeline(shop, tmp_path, [[_item(0), _item(1), _item(2)]])
    picky = Picky(shop.store, sink.connector, sink.policy)
    pipe.sink = picky
    pipe.run(until=_until_drained(source, pipe))
    assert [v for _, v in shop.readings("force")] == [0.0, 2.0]
    assert len(source.acked) == 3
    reasons = [r["reason"] for r in shop.rejects(sink.connector.id)]
    assert reasons == ["the store refused this message: text fields cannot contain NUL"]


def test_an_outage_is_retried_with_backoff_and_logged_when_it_starts_and_ends(
    store: Store, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    shop = press_shop(store)
    pipe, source, sink, _ = _pipeline(shop, tmp_path, [[_item(i)] for i in range(3)], down=4)
    pipe.max_retry_s = 0.04
    pauses: list[float] = []
    write = sink.write

    def timed_write(messages, rejections):  # type: ignore[no-untyped-def]
        pauses.append(pipe._pause)
        return write(messages, rejections)

    sink.write = timed_write  # type: ignore[method-assign]
    with caplog.at_level(logging.WARNING, logger="dure.ingest"):
        stats = pipe.run(until=_until_drained(source, pipe))
    assert pauses[:5] == [0.01, 0.01, 0.02, 0.04, 0.04]  # doubling, up to the cap
    said = [r.getMessage() for r in caplog.records]
    assert sum("store unavailable" in m for m in said) == 1  # once, not once per retry
    assert sum("store reachable again" in m for m in said) == 1
    assert stats.store_errors == 4 and [v for _, v in shop.readings("force")] == [0.0, 1.0, 2.0]
