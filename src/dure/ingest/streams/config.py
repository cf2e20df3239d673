"""Connector configuration: what to subscribe to and how payloads map to sensor channels.

Checked with pydantic; a bad field becomes ``InvalidInput`` naming the field's path,
e.g. ``config.topics.0.format``.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from dure.domain.connectors import ConnectorKind
from dure.errors import InvalidInput


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StreamPolicy(_Strict):
    """How readings are batched, checked and buffered, for every kind of source."""

    batch_max_messages: int = Field(default=5000, ge=1, le=100_000)
    batch_max_ms: int = Field(default=20, ge=1, le=10_000)
    max_future_s: float = Field(
        default=300.0,
        ge=0,
        description="readings further ahead of the receiver's clock are refused",
    )
    oldest_year: int = Field(default=2000, ge=1970, description="readings before this are refused")
    create_channels: bool = Field(
        default=True, description="create unknown channels of known assets on first sight"
    )
    spool_max_mb: int = Field(default=1024, ge=1, description="disk buffer while the store is down")


class TopicRule(_Strict):
    """Messages on topics matching ``filter`` and how to read them.

    The asset is fixed (``asset``) or taken from a topic level (``asset_level``, 0-based).
    JSON payloads name their channels; binary payloads carry a channel index into
    ``channels``.
    """

    filter: str = Field(min_length=1, max_length=512)
    format: Literal["json", "binary"] = "json"
    asset: str | None = Field(default=None, min_length=1, max_length=200)
    asset_level: int | None = Field(default=None, ge=0, le=32)
    channels: list[str] = Field(default_factory=list, max_length=65535)

    @model_validator(mode="after")
    def _asset_source(self) -> TopicRule:
        if (self.asset is None) == (self.asset_level is None):
            raise ValueError("give exactly one of asset (a fixed name) or asset_level")
        if self.format == "binary" and not self.channels:
            raise ValueError("binary payloads need the channels list (index -> channel name)")
        levels = self.filter.split("/")
        if self.asset_level is not None and self.asset_level >= len(levels):
            raise ValueError(f"asset_level {self.asset_level} is beyond the filter's levels")
        if self.asset_level is not None and levels[self.asset_level] == "#":
            raise ValueError("asset_level cannot point at a '#' wildcard")
        return self


class MqttConfig(_Strict):
    """An MQTT broker and the topics to subscribe to (QoS 1, persistent session)."""

    host: str = Field(min_length=1)
    port: int = Field(default=1883, ge=1, le=65535)
    client_id: str = Field(min_length=1, max_length=23 * 8)
    username: str | None = None
    password: str | None = None
    tls: bool = False
    keepalive_s: int = Field(default=30, ge=5, le=3600)
    receive_maximum: int = Field(
        default=20_000, ge=1, le=65535, description="unacknowledged messages the broker may send"
    )
    topics: list[TopicRule] = Field(min_length=1)
    policy: StreamPolicy = StreamPolicy()


class OpcuaTag(_Strict):
    """One OPC UA variable (node id) recorded as a sensor channel of an asset."""

    node_id: str = Field(min_length=1)
    asset: str = Field(min_length=1, max_length=200)
    channel: str = Field(min_length=1, max_length=200)


class OpcuaConfig(_Strict):
    """An OPC UA server and the variables to subscribe to."""

    endpoint: str = Field(pattern=r"^opc\.tcp://")
    username: str | None = None
    password: str | None = None
    publishing_interval_ms: int = Field(default=100, ge=10, le=60_000)
    tags: list[OpcuaTag] = Field(min_length=1)
    policy: StreamPolicy = StreamPolicy()


def check_config(kind: ConnectorKind | str, config: dict[str, Any]) -> MqttConfig | OpcuaConfig:
    """The typed configuration of a connector; InvalidInput names the first bad field."""
    try:
        kind = ConnectorKind(kind)
    except ValueError:
        raise InvalidInput("kind", f"must be one of mqtt, opcua, got {kind!r}") from None
    model = MqttConfig if kind is ConnectorKind.MQTT else OpcuaConfig
    try:
        return model.model_validate(config)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in ("config", *first["loc"]))
        raise InvalidInput(where, first["msg"]) from None
