"""A disk spool of message batches: what was received but could not be stored yet.

Each batch is one file, written to a temporary name, flushed to disk and renamed, so a
crash leaves either a whole batch or none (the broker redelivers what was never
acknowledged). Batches are forwarded oldest first and deleted only after the store has
committed them.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

from dure.domain.connectors import StreamMessage, StreamReading, StreamRejection
from dure.store.blobs import fsync_dir


class SpoolFull(RuntimeError):
    """The spool reached its size limit: stop acknowledging until it drains."""


class DiskSpool:
    """Batches waiting for the store, in arrival order, in ``folder``."""

    def __init__(self, folder: Path, max_bytes: int) -> None:
        self.folder = folder
        self.max_bytes = max_bytes
        folder.mkdir(parents=True, exist_ok=True)
        for leftover in folder.glob("*.tmp"):  # a batch a crash cut short; never acknowledged
            leftover.unlink()
        names = sorted(folder.glob("*.batch"))
        self._next = int(names[-1].stem) + 1 if names else 0
        self._bytes = sum(p.stat().st_size for p in names)
        self._count = len(names)

    def __len__(self) -> int:
        return self._count

    @property
    def bytes(self) -> int:
        """Bytes held on disk."""
        return self._bytes

    def append(self, messages: list[StreamMessage], rejections: list[StreamRejection]) -> None:
        """Write one batch durably (fsync of file and folder) before it is acknowledged."""
        data = json.dumps(_encode(messages, rejections), separators=(",", ":")).encode()
        if self._bytes + len(data) > self.max_bytes:
            raise SpoolFull(
                f"spool {self.folder} holds {self._bytes} bytes (limit {self.max_bytes})"
            )
        final = self.folder / f"{self._next:020d}.batch"
        tmp = final.with_suffix(".tmp")
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, final)
        fsync_dir(self.folder)
        self._next += 1
        self._bytes += len(data)
        self._count += 1

    def oldest(self) -> Iterator[tuple[Path, list[StreamMessage], list[StreamRejection]]]:
        """Batches oldest first, read lazily."""
        for path in sorted(self.folder.glob("*.batch")):
            messages, rejections = _decode(json.loads(path.read_bytes()))
            yield path, messages, rejections

    def remove(self, path: Path) -> None:
        """Forget a batch the store has committed."""
        size = path.stat().st_size
        path.unlink()
        self._bytes -= size
        self._count -= 1


def _encode(messages: list[StreamMessage], rejections: list[StreamRejection]) -> dict:  # type: ignore[type-arg]
    return {
        "messages": [
            [
                m.message_id,
                m.received_us,
                m.topic,
                [[r.asset, r.channel, r.ts_us, r.value] for r in m.readings],
            ]
            for m in messages
        ],
        "rejections": [
            [r.reason, r.received_us, r.topic, r.message_id, r.excerpt] for r in rejections
        ],
    }


def _decode(body: dict) -> tuple[list[StreamMessage], list[StreamRejection]]:  # type: ignore[type-arg]
    messages = [
        StreamMessage(mid, received, tuple(StreamReading(*r) for r in readings), topic)
        for mid, received, topic, readings in body["messages"]
    ]
    rejections = [StreamRejection(*r) for r in body["rejections"]]
    return messages, rejections
