"""Message ids past the retention window are pruned; fresh ones still stop redeliveries."""

from __future__ import annotations

import time

import pytest
from click.testing import CliRunner
from pydantic import ValidationError

from dure.cli import main
from dure.domain.connectors import StreamMessage, StreamReading
from dure.ingest.streams.config import StreamPolicy
from dure.services.live.retention import DAY_US, MessageRetention, prune_all
from dure.services.live.sink import StoreSink
from dure.settings import Settings
from dure.store.session import Store
from tests.ingest.stream_world import PressShop, press_shop

NOW_US = time.time_ns() // 1000


def _message(i: int, age_days: float) -> StreamMessage:
    received = NOW_US - int(age_days * DAY_US)
    return StreamMessage(
        f"m{i}", received, (StreamReading("press7", "force", received + i, float(i)),), "t"
    )


def _shop_with_ids(store: Store, old: int, fresh: int) -> tuple[PressShop, StoreSink]:
    """A connector that stored ``old`` messages 8 days ago and ``fresh`` ones 1 day ago."""
    shop = press_shop(store)
    config = {
        "host": "127.0.0.1",
        "client_id": "t",
        "topics": [{"filter": "plant/#", "asset": "press7"}],
    }
    connector = shop.connector("line1", "mqtt", config)
    sink = StoreSink(store, connector, StreamPolicy())
    messages = [_message(i, 8) for i in range(old)]
    messages += [_message(old + i, 1) for i in range(fresh)]
    assert sink.write(messages, []).messages == old + fresh
    return shop, sink


def test_ids_past_the_window_are_pruned_and_fresh_ones_still_stop_redeliveries(
    store: Store,
) -> None:
    shop, sink = _shop_with_ids(store, old=25, fresh=5)
    assert prune_all(store, 7, now_us=NOW_US, batch=10) == 25  # three bounded batches
    assert shop.stored_messages(sink.connector.id) == 5
    assert prune_all(store, 7, now_us=NOW_US) == 0
    fresh_again = [_message(25 + i, 1) for i in range(5)]
    result = sink.write(fresh_again, [])
    assert (result.messages, result.duplicates) == (0, 5)  # recognised: stored once
    assert len(shop.readings("force")) == 30


def test_the_running_connector_prunes_a_bounded_batch_per_heartbeat(store: Store) -> None:
    shop, _ = _shop_with_ids(store, old=7, fresh=2)
    connector = _connector_of(shop)
    retention = MessageRetention(store, connector.id, 7, batch=3, clock_us=lambda: NOW_US)
    sink = StoreSink(store, connector, StreamPolicy(), retention)
    counts = []
    for _ in range(4):
        sink.heartbeat({"running": True})
        counts.append(shop.stored_messages(connector.id))
    assert counts == [6, 3, 2, 2]  # 3, 3, then the last 1 and a rest until the next round
    assert retention.pruned == 7
    assert shop.status(connector.id) == {"running": True}


def test_a_window_covering_the_old_ids_keeps_them(store: Store) -> None:
    shop, sink = _shop_with_ids(store, old=4, fresh=1)
    assert prune_all(store, 9, now_us=NOW_US) == 0
    assert shop.stored_messages(sink.connector.id) == 5


def test_dure_connect_prune_says_how_many_went(store: Store, settings: Settings) -> None:
    _shop_with_ids(store, old=3, fresh=2)
    args = ["--home", str(settings.home)]
    if settings.database_url:
        args += ["--database-url", settings.database_url]
    result = CliRunner().invoke(main, [*args, "connect", "prune"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "pruned 3 message ids older than 7 days" in result.output
    refused = CliRunner().invoke(main, [*args, "connect", "prune", "--days", "0"])
    assert refused.exit_code == 2 and "--days" in refused.output


@pytest.mark.parametrize("days", [0, -1])
def test_a_window_that_is_not_positive_is_refused_naming_the_setting(
    days: float, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ValidationError, match="stream_retention_days"):
        Settings(stream_retention_days=days)
    monkeypatch.setenv("DURE_STREAM_RETENTION_DAYS", str(days))
    with pytest.raises(ValidationError, match="stream_retention_days"):
        Settings()


def _connector_of(shop: PressShop):  # type: ignore[no-untyped-def]
    from dure.services.platform.accounts import system_caller

    with shop.store.session(system_caller(shop.org)) as s:
        return s.connectors.get_by_name("line1")
