"""Identifiers: random, unguessable, URL-safe."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime


def new_id() -> str:
    """A new random identifier (32 hex characters) that cannot be guessed from others."""
    return uuid.uuid4().hex


def utcnow() -> datetime:
    """The current time, timezone-aware in UTC."""
    return datetime.now(UTC)
