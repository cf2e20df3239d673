"""Durable small writes: a temporary name, fsync, rename, fsync of the folder."""

from __future__ import annotations

import os
from pathlib import Path

TMP_SUFFIX = ".tmp"


def fsync_dir(folder: Path) -> None:
    """Make a rename or a new file in ``folder`` durable (flush the folder's entry)."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Write ``data`` to ``path`` so that a crash leaves the old file or the whole new one."""
    tmp = path.with_name(path.name + TMP_SUFFIX)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)


def remove_leftovers(folder: Path) -> int:
    """Delete the temporary files a crash left in ``folder``; returns how many."""
    count = 0
    if folder.is_dir():
        for leftover in folder.glob(f"*{TMP_SUFFIX}"):
            leftover.unlink(missing_ok=True)
            count += 1
    return count
