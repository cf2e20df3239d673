"""Fixtures of the edge tests: a real Mosquitto (shared with the live-ingestion tests)."""

from tests.ingest.conftest import mosquitto

__all__ = ["mosquitto"]
