"""Fixtures of the edge tests: a real Mosquitto (shared with the live-ingestion tests), and
a taught inspection model on the site (shared with the service tests)."""

from tests.ingest.conftest import mosquitto
from tests.services.conftest import runner, trained

__all__ = ["mosquitto", "runner", "trained"]
