"""The result spool: every verdict with its image and anomaly map, kept until the site has it.

One SQLite file (WAL, ``synchronous=FULL``: a committed row survives a power cut) holds a row
per result, keyed by its deterministic ``rid``; the image and the raw anomaly map are files
beside it, written tmp + fsync + rename *before* the row is committed. So after a crash at
any point a result is either committed whole (row and both files) or absent, and an absent
one is produced again, with the same rid, from the input that was not yet let go of (the
camera file is deleted, the MQTT message acknowledged, only after the commit).

States: ``pending`` (waiting for the site), ``sent`` (the site stored it, or had it already),
``refused`` (the site will never take it: kept for a person to look at, never retried).
"""

from __future__ import annotations

import io
import json
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dure.edge.fsio import remove_leftovers, write_atomic

PENDING, SENT, REFUSED = "pending", "sent", "refused"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS results (
    rid TEXT PRIMARY KEY,
    seq INTEGER NOT NULL,
    created_us INTEGER NOT NULL,
    package_id TEXT NOT NULL,
    body TEXT NOT NULL,
    image_file TEXT NOT NULL,
    map_file TEXT NOT NULL,
    bytes INTEGER NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    refusal TEXT,
    settled_us INTEGER
);
CREATE INDEX IF NOT EXISTS results_state_seq ON results (state, seq);
"""


class SpoolFull(RuntimeError):
    """The spool holds its limit of results waiting for the site: stop taking images."""


@dataclass(frozen=True)
class Spooled:
    """One result waiting to be forwarded."""

    rid: str
    body: dict[str, Any]
    image_file: Path
    map_file: Path
    attempts: int


class ResultSpool:
    """Results on disk under ``folder`` (results.sqlite, images/, maps/)."""

    def __init__(self, folder: Path, max_bytes: int = 2_000_000_000, tidy: bool = True) -> None:
        """Open (or make) the spool; ``tidy`` (the box itself, at start) removes the
        temporary files a crash left; a reader beside a running box passes False, as those
        may be the box's writes in flight."""
        self.folder = Path(folder)
        self.images = self.folder / "images"
        self.maps = self.folder / "maps"
        self.max_bytes = max_bytes
        for sub in (self.folder, self.images, self.maps):
            sub.mkdir(parents=True, exist_ok=True)
            if tidy:
                remove_leftovers(sub)  # a write a crash cut short; its input was never let go
        self._lock = threading.Lock()
        self._db = sqlite3.connect(
            self.folder / "results.sqlite", check_same_thread=False, isolation_level=None
        )
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)
        row = self._db.execute(
            "SELECT COALESCE(MAX(seq), 0), COALESCE(SUM(bytes) FILTER (WHERE state = ?), 0) "
            "FROM results",
            (PENDING,),
        ).fetchone()
        self._seq, self._pending_bytes = int(row[0]), int(row[1])

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._db.close()

    def has(self, rid: str) -> bool:
        """True when the result ``rid`` is committed (in any state)."""
        with self._lock:
            return (
                self._db.execute("SELECT 1 FROM results WHERE rid = ?", (rid,)).fetchone()
                is not None
            )

    def add(
        self, rid: str, body: dict[str, Any], image: bytes, image_ext: str, raw_map: np.ndarray
    ) -> bool:
        """Keep one result durably: image and map files first, then the row (committed).
        False when ``rid`` was already there (nothing written). SpoolFull at the limit."""
        if self.has(rid):
            return False
        size = len(image) + raw_map.nbytes
        if self._pending_bytes + size > self.max_bytes:
            raise SpoolFull(
                f"{self._pending_bytes} bytes wait for the site (limit {self.max_bytes})"
            )
        ext = image_ext if image_ext.startswith(".") and image_ext[1:].isalnum() else ".img"
        image_file = self.images / f"{rid}{ext.lower()}"
        map_file = self.maps / f"{rid}.npy"
        write_atomic(image_file, image)
        buffer = io.BytesIO()
        np.save(buffer, np.ascontiguousarray(raw_map, dtype="<f4"), allow_pickle=False)
        write_atomic(map_file, buffer.getvalue())
        with self._lock:
            self._seq += 1
            cursor = self._db.execute(
                "INSERT OR IGNORE INTO results (rid, seq, created_us, package_id, body, "
                "image_file, map_file, bytes) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    rid,
                    self._seq,
                    time.time_ns() // 1000,
                    str(body.get("package_id", "")),
                    json.dumps(body, separators=(",", ":")),
                    image_file.name,
                    map_file.name,
                    size,
                ),
            )
            if cursor.rowcount:
                self._pending_bytes += size
            return bool(cursor.rowcount)

    def oldest_pending(self, limit: int) -> list[Spooled]:
        """Up to ``limit`` results waiting for the site, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT rid, body, image_file, map_file, attempts FROM results "
                "WHERE state = ? ORDER BY seq LIMIT ?",
                (PENDING, limit),
            ).fetchall()
        return [
            Spooled(rid, json.loads(body), self.images / image, self.maps / map_, attempts)
            for rid, body, image, map_, attempts in rows
        ]

    def read_map(self, item: Spooled) -> np.ndarray:
        """The raw anomaly map of a spooled result."""
        return np.load(item.map_file, allow_pickle=False)

    def note_attempt(self, rids: list[str]) -> None:
        """Count one more try of sending these results."""
        with self._lock:
            self._db.executemany(
                "UPDATE results SET attempts = attempts + 1 WHERE rid = ?", [(r,) for r in rids]
            )

    def settle(self, rid: str, state: str, refusal: str | None = None) -> None:
        """Mark a pending result ``sent`` or ``refused`` (with the site's reason)."""
        assert state in (SENT, REFUSED)
        with self._lock:
            row = self._db.execute(
                "SELECT bytes FROM results WHERE rid = ? AND state = ?", (rid, PENDING)
            ).fetchone()
            if row is None:
                return
            self._db.execute(
                "UPDATE results SET state = ?, refusal = ?, settled_us = ? WHERE rid = ?",
                (state, refusal, time.time_ns() // 1000, rid),
            )
            self._pending_bytes -= int(row[0])

    def prune(self, keep_days: float, now_us: int | None = None) -> int:
        """Delete ``sent`` and ``refused`` results (row, image, map) settled more than
        ``keep_days`` ago (a refusal is kept that long for a person to look at)."""
        now_us = time.time_ns() // 1000 if now_us is None else now_us
        cutoff = now_us - int(keep_days * 86_400e6)
        with self._lock:
            rows = self._db.execute(
                "SELECT rid, image_file, map_file FROM results "
                "WHERE state IN (?, ?) AND settled_us < ?",
                (SENT, REFUSED, cutoff),
            ).fetchall()
        for rid, image, map_ in rows:
            (self.images / image).unlink(missing_ok=True)
            (self.maps / map_).unlink(missing_ok=True)
            with self._lock:
                self._db.execute("DELETE FROM results WHERE rid = ?", (rid,))
        return len(rows)

    def counts(self) -> dict[str, int]:
        """How many results are in each state."""
        with self._lock:
            rows = self._db.execute("SELECT state, COUNT(*) FROM results GROUP BY state").fetchall()
        out = {PENDING: 0, SENT: 0, REFUSED: 0}
        out.update({state: int(n) for state, n in rows})
        return out

    @property
    def pending_bytes(self) -> int:
        """Bytes of images and maps waiting for the site."""
        return self._pending_bytes

    def refused(self) -> list[tuple[str, str]]:
        """(rid, reason) of every result the site refused."""
        with self._lock:
            rows = self._db.execute(
                "SELECT rid, refusal FROM results WHERE state = ? ORDER BY seq", (REFUSED,)
            ).fetchall()
        return [(rid, reason or "") for rid, reason in rows]

    def latencies(self) -> list[float]:
        """The line latency (ms) of every result held, oldest first (for reports)."""
        with self._lock:
            rows = self._db.execute("SELECT body FROM results ORDER BY seq").fetchall()
        values = (json.loads(body).get("latency_ms") for (body,) in rows)
        return [float(v) for v in values if v is not None]

    def result(self, rid: str) -> dict[str, Any] | None:
        """The stored body and state of one result (for status and tests)."""
        with self._lock:
            row = self._db.execute(
                "SELECT body, state, refusal, attempts FROM results WHERE rid = ?", (rid,)
            ).fetchone()
        if row is None:
            return None
        body = json.loads(row[0])
        return {**body, "state": row[1], "refusal": row[2], "attempts": row[3]}
