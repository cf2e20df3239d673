"""Loopback ports for the servers Dure starts itself (Flower, Mosquitto, test servers)."""

from __future__ import annotations

import socket


def free_port() -> int:
    """A TCP port nothing listens on right now on loopback."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
