"""Live data connectors: an MQTT subscription or an OPC UA session feeding sensor channels.

The stream values are named tuples: tens of thousands are made per second.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, NamedTuple

from dure.domain.ids import new_id, utcnow


class ConnectorKind(StrEnum):
    """The protocol a connector speaks."""

    MQTT = "mqtt"
    OPCUA = "opcua"


@dataclass(kw_only=True)
class Connector:
    """A configured live source of one organisation; ``config`` is checked per kind."""

    org_id: str
    name: str
    kind: ConnectorKind
    config: dict[str, Any]
    enabled: bool = True
    status: dict[str, Any] = field(default_factory=dict)
    heartbeat_at: datetime | None = None
    created_by: str | None = None
    id: str = field(default_factory=new_id)
    created_at: datetime = field(default_factory=utcnow)


class StreamReading(NamedTuple):
    """One value of one channel, as named by the source (asset and channel names)."""

    asset: str
    channel: str
    ts_us: int
    value: float


class StreamMessage(NamedTuple):
    """One message from a live source: its id (for de-duplication) and its readings."""

    message_id: str
    received_us: int
    readings: tuple[StreamReading, ...]
    topic: str = ""


class StreamRejection(NamedTuple):
    """A message or reading that could not be stored, and why, in words."""

    reason: str
    received_us: int
    topic: str = ""
    message_id: str = ""
    excerpt: str = ""
