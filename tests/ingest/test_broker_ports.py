"""The loopback ports Dure's own servers take, and a broker that cannot start."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from dure.bench.mosquitto import Mosquitto
from dure.ports import ephemeral_range, free_port
from tests.ingest.conftest import need_mosquitto


def test_free_ports_lie_below_the_ephemeral_range_and_are_free() -> None:
    """An outgoing connection can take an ephemeral port while a broker is down; ours
    are drawn below that range so a broker restarts on its port."""
    low, _ = ephemeral_range()
    for _ in range(20):
        port = free_port()
        assert 20000 <= port < low
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", port))


def test_a_broker_whose_port_is_taken_says_so(tmp_path: Path) -> None:
    need_mosquitto()
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        port = squatter.getsockname()[1]
        broker = Mosquitto(tmp_path / "broker", port=port)
        # a socket holds the port (as an outgoing connection's source port would):
        # mosquitto exits at once, and the error quotes its log instead of waiting 10 s
        try:
            with pytest.raises(RuntimeError, match=f"did not start on port {port}") as error:
                broker.start()
        finally:
            broker.stop()
    assert "Address already in use" in str(error.value) or "Error" in str(error.value)
