"""The result spool: whole results or none across crashes, oldest first, refused kept,
sent pruned, back-pressure at its limit."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from dure.edge.fsio import prune_rejected, rejected_files
from dure.edge.spool import PENDING, REFUSED, SENT, ResultSpool, SpoolFull


def body(rid: str, serial: str = "a.png") -> dict:  # type: ignore[type-arg]
    return {"rid": rid, "package_id": "p1", "serial": serial, "score": 0.5}


def rid(i: int) -> str:
    return f"{i:032x}"


def test_results_are_kept_whole_and_given_back_oldest_first(tmp_path: Path) -> None:
    spool = ResultSpool(tmp_path / "spool")
    raw = np.arange(12, dtype=np.float32).reshape(3, 4)
    for i in (3, 1, 2):
        assert spool.add(rid(i), body(rid(i)), b"img%d" % i, ".png", raw * i)
    assert not spool.add(rid(1), body(rid(1)), b"other", ".png", raw)  # same rid: kept once
    items = spool.oldest_pending(2)
    assert [item.rid for item in items] == [rid(3), rid(1)]
    assert items[0].image_file.read_bytes() == b"img3"
    assert np.array_equal(spool.read_map(items[1]), raw)
    spool.close()
    again = ResultSpool(tmp_path / "spool")  # a restart reads the same
    assert [item.rid for item in again.oldest_pending(10)] == [rid(3), rid(1), rid(2)]
    assert again.pending_bytes == 3 * (4 + raw.nbytes)


def test_sent_and_refused_leave_the_queue_both_are_kept_then_pruned(tmp_path: Path) -> None:
    spool = ResultSpool(tmp_path / "spool")
    raw = np.zeros((2, 2), np.float32)
    for i in range(3):
        spool.add(rid(i), body(rid(i)), b"x", ".png", raw)
    spool.settle(rid(0), SENT)
    spool.settle(rid(1), REFUSED, "results[0].model_version_id: unknown model")
    spool.settle(rid(1), SENT)  # settled once: a refusal is final
    assert [item.rid for item in spool.oldest_pending(10)] == [rid(2)]
    assert spool.counts() == {PENDING: 1, SENT: 1, REFUSED: 1}
    assert spool.refused() == [(rid(1), "results[0].model_version_id: unknown model")]
    assert spool.prune(keep_days=1) == 0  # sent just now
    later = time.time_ns() // 1000 + 2 * 86_400_000_000
    assert spool.prune(keep_days=1, now_us=later) == 2  # the refusal too, after keep_days
    assert spool.counts() == {PENDING: 1, SENT: 0, REFUSED: 0}
    assert not (spool.images / f"{rid(0)}.png").exists()
    assert not (spool.images / f"{rid(1)}.png").exists()
    assert (spool.images / f"{rid(2)}.png").exists()  # pending: never pruned


def test_images_set_aside_are_pruned_with_their_reasons_after_keep_days(tmp_path: Path) -> None:
    rejected = tmp_path / "rejected"
    rejected.mkdir()
    for name in ("old.png", "new.png"):
        (rejected / name).write_bytes(b"not an image")
        (rejected / f"{name}.why.txt").write_text("undecodable")
    (rejected / "lost.png.why.txt").write_text("its image was removed by hand")
    two_days_ago = time.time() - 2 * 86_400
    for name in ("old.png", "old.png.why.txt", "lost.png.why.txt"):
        os.utime(rejected / name, (two_days_ago, two_days_ago))
    assert [p.name for p in rejected_files(rejected)] == ["new.png", "old.png"]
    assert prune_rejected(rejected, keep_days=1) == 1
    assert sorted(p.name for p in rejected.iterdir()) == ["new.png", "new.png.why.txt"]
    assert prune_rejected(tmp_path / "never-made", keep_days=1) == 0


def test_a_full_spool_refuses_more_until_results_are_sent(tmp_path: Path) -> None:
    raw = np.zeros((10, 10), np.float32)  # 400 bytes + 100 bytes of image each
    spool = ResultSpool(tmp_path / "spool", max_bytes=1000)
    spool.add(rid(0), body(rid(0)), b"x" * 100, ".png", raw)
    spool.add(rid(1), body(rid(1)), b"x" * 100, ".png", raw)
    with pytest.raises(SpoolFull):
        spool.add(rid(2), body(rid(2)), b"x" * 100, ".png", raw)
    assert not spool.has(rid(2)) and not list(spool.images.glob(f"{rid(2)}*"))
    spool.settle(rid(0), SENT)
    assert spool.add(rid(2), body(rid(2)), b"x" * 100, ".png", raw)


def test_files_a_crash_left_without_their_row_are_cleaned_or_rewritten(tmp_path: Path) -> None:
    spool = ResultSpool(tmp_path / "spool")
    (spool.images / f"{rid(1)}.png.tmp").write_bytes(b"half")  # cut short mid-write
    (spool.images / f"{rid(2)}.png").write_bytes(b"stale")  # renamed, row never committed
    spool.close()
    spool = ResultSpool(tmp_path / "spool")
    assert not list(spool.images.glob("*.tmp"))
    assert not spool.has(rid(2))  # no row: the input was never let go of, so it comes back
    assert spool.add(rid(2), body(rid(2)), b"fresh", ".png", np.zeros((1, 1), np.float32))
    assert (spool.images / f"{rid(2)}.png").read_bytes() == b"fresh"


WRITER = """
import sys, numpy as np
from dure.edge.spool import ResultSpool
spool = ResultSpool(sys.argv[1])
raw = np.ones((32, 32), np.float32)
i = 0
while True:
    rid = f"{i:032x}"
    spool.add(rid, {"rid": rid, "package_id": "p"}, bytes([i % 256]) * 2000, ".png", raw * i)
    print(i, flush=True)
    i += 1
"""


def test_kill_9_mid_write_leaves_only_whole_results(tmp_path: Path) -> None:
    folder = tmp_path / "spool"
    for round_ in range(3):
        proc = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(folder)], stdout=subprocess.PIPE, text=True
        )
        assert proc.stdout is not None
        for _ in range(5 + 7 * round_):
            assert proc.stdout.readline()
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        spool = ResultSpool(folder)
        items = spool.oldest_pending(10_000)
        assert items, "the writer committed results before it was killed"
        for item in items:  # every committed row has both its files, whole
            i = int(item.rid, 16)
            assert item.image_file.read_bytes() == bytes([i % 256]) * 2000
            assert np.array_equal(spool.read_map(item), np.ones((32, 32), np.float32) * i)
        assert not list(spool.images.glob("*.tmp")) and not list(spool.maps.glob("*.tmp"))
        spool.close()
