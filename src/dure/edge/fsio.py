"""Durable small writes: a temporary name, fsync, rename, fsync of the folder."""

from __future__ import annotations

import os
import time
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


WHY_SUFFIX = ".why.txt"


def rejected_files(folder: Path) -> list[Path]:
    """The images set aside in ``folder`` (``home/rejected``), without their reasons."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_file() and not p.name.endswith(WHY_SUFFIX))


def prune_rejected(folder: Path, keep_days: float, now: float | None = None) -> int:
    """Delete images set aside in ``folder`` more than ``keep_days`` ago, with their
    reasons (aged by the reason file, written when the image was set aside); returns how
    many images went."""
    cutoff = (time.time() if now is None else now) - keep_days * 86_400
    pruned = 0
    for image in rejected_files(folder):
        why = image.with_name(image.name + WHY_SUFFIX)
        try:
            when = (why if why.exists() else image).stat().st_mtime
            if when < cutoff:
                image.unlink(missing_ok=True)
                why.unlink(missing_ok=True)
                pruned += 1
        except OSError:  # gone meanwhile, or not ours to delete: left
            continue
    if folder.is_dir():
        for why in folder.glob(f"*{WHY_SUFFIX}"):  # a reason whose image is gone
            image = why.with_name(why.name[: -len(WHY_SUFFIX)])
            if not image.exists() and why.stat().st_mtime < cutoff:
                why.unlink(missing_ok=True)
    return pruned
