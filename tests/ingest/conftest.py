"""Fixtures of the live-ingestion tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.ingest.brokers import Mosquitto


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[Mosquitto]:
    """A running Mosquitto on loopback, stopped after the test."""
    broker = Mosquitto(tmp_path / "broker")
    broker.start()
    yield broker
    broker.stop()
