"""CPU time and memory of a process tree from /proc (Linux): the driver plus every process
it started, Ray's daemons and workers included."""

from __future__ import annotations

import os
from pathlib import Path

PROC = Path("/proc")
TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _stat(pid: int) -> list[str] | None:
    try:
        text = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    # the command name (field 2) may hold spaces: split after its closing parenthesis
    return text[text.rindex(")") + 2 :].split()


def descendants(root: int) -> list[int]:
    """``root`` and every live process below it."""
    children: dict[int, list[int]] = {}
    for entry in PROC.iterdir():
        if entry.name.isdigit() and (fields := _stat(int(entry.name))) is not None:
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(children.get(pid, []))
    return tree


def tree_cpu_seconds(root: int | None = None) -> float:
    """User + system CPU seconds of the tree under ``root`` (default: this process),
    including children that have exited and been waited for."""
    total = 0
    for pid in descendants(root or os.getpid()):
        fields = _stat(pid)
        if fields is not None:  # utime, stime, cutime, cstime: fields 14-17 of stat
            total += sum(int(v) for v in fields[11:15])
    return total / TICKS


def pss_mb(pid: int) -> float:
    """Proportional set size of one process in MB (shared pages split among sharers)."""
    try:
        for line in (PROC / str(pid) / "smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def tree_pss_mb(root: int | None = None, include_root: bool = False) -> float:
    """Summed PSS of the processes below ``root`` (and of ``root`` itself if asked)."""
    root = root or os.getpid()
    return sum(pss_mb(p) for p in descendants(root) if include_root or p != root)
