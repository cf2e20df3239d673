"""Fixtures of the live-ingestion tests."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from dure.bench.mosquitto import Mosquitto, mosquitto_binary


def need_mosquitto() -> None:
    """Skip without Mosquitto; in CI (where make test installs it) fail instead."""
    if mosquitto_binary() is None:
        message = "mosquitto is not installed (make test installs it with apt-get)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[Mosquitto]:
    """A running Mosquitto on loopback, stopped after the test."""
    need_mosquitto()
    broker = Mosquitto(tmp_path / "broker")
    broker.start()
    yield broker
    broker.stop()
