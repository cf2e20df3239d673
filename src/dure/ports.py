"""Loopback ports for the servers Dure starts itself (Flower, Mosquitto, test servers).

A port is drawn *below* the kernel's ephemeral range. A port from the ephemeral range
(what binding port 0 returns) can be taken as the source port of any outgoing
connection on the machine while its server is down, so a broker restarted on "its"
port after an outage could find it in use.
"""

from __future__ import annotations

import random
import socket
from pathlib import Path

_RANGE_FILE = Path("/proc/sys/net/ipv4/ip_local_port_range")
_LOWEST = 20000  # above the well-known and most registered service ports


def ephemeral_range() -> tuple[int, int]:
    """The kernel's range for outgoing source ports (Linux's default when unknown)."""
    try:
        low, high = (int(part) for part in _RANGE_FILE.read_text().split())
        return low, high
    except (OSError, ValueError):
        return 32768, 60999


def free_port() -> int:
    """A TCP port nothing listens on right now on loopback, outside the ephemeral range
    when there is room below it (else whatever the kernel hands out)."""
    low, _ = ephemeral_range()
    if low - _LOWEST >= 1000:
        for _ in range(200):
            port = random.randint(_LOWEST, low - 1)  # noqa: S311 - not a secret
            with socket.socket() as sock:
                try:
                    sock.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
