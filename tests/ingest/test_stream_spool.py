"""The disk spool: whole batches or none, oldest first, a size limit."""

from __future__ import annotations

from pathlib import Path

import pytest

from dure.domain.connectors import StreamMessage, StreamReading, StreamRejection
from dure.ingest.streams.spool import DiskSpool, SpoolFull


def _batch(i: int) -> list[StreamMessage]:
    return [StreamMessage(f"m{i}", i, (StreamReading("press7", "force", i, float(i)),), "t")]


def test_batches_come_back_oldest_first_and_survive_a_restart(tmp_path: Path) -> None:
    spool = DiskSpool(tmp_path, 1 << 20)
    for i in range(3):
        spool.append(_batch(i), [StreamRejection("bad", i, "t", f"m{i}", "x")] if i == 1 else [])
    reopened = DiskSpool(tmp_path, 1 << 20)
    assert len(reopened) == 3 and reopened.bytes == spool.bytes
    seen = [
        (messages[0].message_id, len(rejections)) for _, messages, rejections in reopened.oldest()
    ]
    assert seen == [("m0", 0), ("m1", 1), ("m2", 0)]
    first = next(iter(reopened.oldest()))
    reopened.remove(first[0])
    assert [m[0].message_id for _, m, _ in DiskSpool(tmp_path, 1 << 20).oldest()] == ["m1", "m2"]
    assert next(iter(reopened.oldest()))[1][0].readings[0] == StreamReading(
        "press7", "force", 1, 1.0
    )


def test_a_batch_cut_short_by_a_crash_is_dropped_at_restart(tmp_path: Path) -> None:
    spool = DiskSpool(tmp_path, 1 << 20)
    spool.append(_batch(0), [])
    (tmp_path / "00000000000000000001.tmp").write_bytes(b'{"messages": [["m1"')  # never acked
    reopened = DiskSpool(tmp_path, 1 << 20)
    assert len(reopened) == 1
    assert not list(tmp_path.glob("*.tmp"))
    reopened.append(_batch(2), [])
    assert [m[0].message_id for _, m, _ in reopened.oldest()] == ["m0", "m2"]


def test_a_full_spool_refuses_more(tmp_path: Path) -> None:
    spool = DiskSpool(tmp_path, 300)
    spool.append(_batch(0), [])
    with pytest.raises(SpoolFull, match="limit 300"):
        for i in range(1, 10):
            spool.append(_batch(i), [])
    assert spool.bytes <= 300
