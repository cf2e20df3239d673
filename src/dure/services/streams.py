"""Live connectors as use cases: configure them, and store what they receive.

``StoreSink`` is the pipeline's way into the store: one transaction per batch that skips
message ids stored before, maps (asset, channel) names to sensor channels (creating
unknown channels of known assets when the connector allows it), inserts the readings,
remembers the message ids and keeps every refusal with its reason.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy.exc import DBAPIError, OperationalError

from dure.domain.connectors import Connector, ConnectorKind, StreamMessage, StreamRejection
from dure.domain.plant import SensorChannel
from dure.domain.users import Caller, Role
from dure.errors import Forbidden, InvalidInput
from dure.ingest.streams.config import MqttConfig, OpcuaConfig, StreamPolicy, check_config
from dure.ingest.streams.pipeline import StoreUnavailable, WriteResult
from dure.store.repositories.sensor_readings import ReadingColumns
from dure.store.repositories.users import caller_for_user
from dure.store.scoped import Page
from dure.store.session import Session, Store


def _plus(a: WriteResult, b: WriteResult) -> WriteResult:
    return WriteResult(
        *(x + y for x, y in zip(dataclasses.astuple(a), dataclasses.astuple(b), strict=True))
    )


def _printable(text: str) -> str:
    return "".join(c if c.isprintable() else "?" for c in text)


def create_connector(session: Session, name: str, kind: str, config: dict[str, Any]) -> Connector:
    """A new connector of the caller's organisation, its configuration checked first."""
    if not name or len(name) > 200:
        raise InvalidInput("name", "give a name of 1 to 200 characters")
    checked = check_config(kind, config)
    connector = Connector(
        org_id=session.caller.org_id,
        name=name,
        kind=ConnectorKind(kind),
        config=checked.model_dump(mode="json"),
        created_by=session.caller.user_id,
    )
    return session.connectors.add(connector)


def save_connector(session: Session, name: str, kind: str, config: dict[str, Any]) -> Connector:
    """Create the connector ``name`` or replace its configuration (the CLI's path)."""
    checked = check_config(kind, config).model_dump(mode="json")
    existing = session.connectors.list(Page(limit=1), name=name, org_id=session.caller.org_id)
    if not existing.items:
        return create_connector(session, name, kind, config)
    current = existing.items[0]
    if current.kind != ConnectorKind(kind):
        raise InvalidInput("kind", f"connector {name!r} is {current.kind.value}, not {kind}")
    return session.connectors.update_fields(current.id, config=checked, enabled=True)


def change_connector(
    session: Session, connector_id: str, config: dict[str, Any] | None, enabled: bool | None
) -> Connector:
    """Replace a connector's configuration (checked first; a hidden password is kept) or
    switch it on or off."""
    current = session.connectors.get(connector_id)
    changes: dict[str, Any] = {}
    if config is not None:
        if config.get("password") == SECRET_SHOWN:
            config = {**config, "password": current.config.get("password")}
        changes["config"] = check_config(current.kind, config).model_dump(mode="json")
    if enabled is not None:
        changes["enabled"] = enabled
    if not changes:
        raise InvalidInput("body", "give config or enabled")
    return session.connectors.update_fields(connector_id, **changes)


SECRET_SHOWN = "********"


def without_secrets(connector: Connector) -> Connector:
    """The connector as shown to people: its broker or server password hidden."""
    if connector.config.get("password") is None:
        return connector
    return dataclasses.replace(connector, config={**connector.config, "password": SECRET_SHOWN})


def typed_config(connector: Connector) -> MqttConfig | OpcuaConfig:
    """The connector's checked configuration."""
    return check_config(connector.kind, connector.config)


@dataclass
class _Channel:
    id: str
    last_ts_us: int | None


class StoreSink:
    """Writes batches of one connector, acting as the user who created it."""

    def __init__(self, store: Store, connector: Connector, policy: StreamPolicy) -> None:
        self.store = store
        self.connector = connector
        self.policy = policy
        self._channels: dict[tuple[str, str], _Channel] = {}
        self._caller: Caller | None = None
        self._caller_at = 0.0

    def write(
        self, messages: list[StreamMessage], rejections: list[StreamRejection]
    ) -> WriteResult:
        """Store one batch in one transaction; StoreUnavailable when the store is down."""
        try:
            return self._write_batch(messages, rejections)
        except DBAPIError as exc:
            if isinstance(exc, OperationalError) or exc.connection_invalidated:
                raise StoreUnavailable(f"store: {exc.orig or exc}") from exc
            if len(messages) + len(rejections) <= 1:
                raise
        # The store refused the batch for its content (a value it cannot hold): store
        # the messages one by one, so one bad message cannot stop the stream.
        total = WriteResult()
        for m in messages:
            try:
                part = self._write_batch([m], [])
            except DBAPIError as exc:
                if isinstance(exc, OperationalError) or exc.connection_invalidated:
                    raise StoreUnavailable(f"store: {exc.orig or exc}") from exc
                refusal = StreamRejection(
                    f"the store refused this message: {exc.orig or exc}"[:2000],
                    m.received_us,
                    m.topic,
                    m.message_id,
                )
                part = self._write_batch([], [refusal])
            total = _plus(total, part)
        for r in rejections:
            try:
                part = self._write_batch([], [r])
            except DBAPIError:
                part = self._write_batch([], [r._replace(reason=_printable(r.reason), excerpt="")])
            total = _plus(total, part)
        return total

    def _write_batch(
        self, messages: list[StreamMessage], rejections: list[StreamRejection]
    ) -> WriteResult:
        caller = self._current_caller()
        with self.store.session(caller) as session:
            result, learned = self._write(session, messages, list(rejections))
        self._channels.update(learned)  # only after the commit: a rollback forgets them
        return result

    def heartbeat(self, status: dict[str, Any]) -> None:
        """Write the runner's status onto the connector row."""
        try:
            with self.store.session(self._current_caller()) as session:
                session.connectors.beat(self.connector.id, status)
        except OperationalError as exc:
            raise StoreUnavailable(str(exc.orig or exc)) from exc

    def _current_caller(self) -> Caller:
        # Re-read the creator's role now and then: a disabled user's connector stops.
        if self._caller is None or time.monotonic() - self._caller_at > 30:
            with self.store.engine.begin() as conn:
                self._caller = caller_for_user(
                    conn, self.connector.org_id, self.connector.created_by
                )
            if not self._caller.can(Role.OPERATOR):
                raise Forbidden("the connector's user may no longer write sensor readings")
            self._caller_at = time.monotonic()
        return self._caller

    def _write(
        self,
        session: Session,
        messages: list[StreamMessage],
        rejections: list[StreamRejection],
    ) -> tuple[WriteResult, dict[tuple[str, str], _Channel]]:
        unique: dict[str, StreamMessage] = {}
        for m in messages:
            unique.setdefault(m.message_id, m)
        seen = session.connectors.stored_ids(self.connector.id, list(unique))
        fresh = [m for mid, m in unique.items() if mid not in seen]
        learned: dict[tuple[str, str], _Channel] = {}
        channel_ids: list[str] = []
        index_of: dict[str, int] = {}
        rows_index, rows_ts, rows_value = [], [], []
        late = 0
        for m in fresh:
            for r in m.readings:
                channel = self._channel(session, r.asset, r.channel, learned)
                if isinstance(channel, str):
                    rejections.append(
                        StreamRejection(channel, m.received_us, m.topic, m.message_id)
                    )
                    continue
                if channel.last_ts_us is not None and r.ts_us <= channel.last_ts_us:
                    late += 1
                else:
                    channel.last_ts_us = r.ts_us
                if channel.id not in index_of:
                    index_of[channel.id] = len(channel_ids)
                    channel_ids.append(channel.id)
                rows_index.append(index_of[channel.id])
                rows_ts.append(r.ts_us)
                rows_value.append(r.value)
        stored = 0
        if rows_ts:
            stored = session.readings.insert(
                ReadingColumns(
                    channel_ids,
                    np.asarray(rows_index, dtype=np.int32),
                    np.asarray(rows_ts, dtype=np.int64),
                    np.asarray(rows_value, dtype=np.float64),
                )
            )
        session.connectors.remember(
            self.connector.id, ((m.message_id, m.received_us) for m in fresh)
        )
        session.connectors.reject(self.connector.id, rejections)
        result = WriteResult(
            messages=len(fresh),
            duplicates=len(messages) - len(fresh),
            readings=stored,
            late=late,
            rejected=len(rejections),
        )
        return result, learned

    def _channel(
        self,
        session: Session,
        asset_name: str,
        channel_name: str,
        learned: dict[tuple[str, str], _Channel],
    ) -> _Channel | str:
        """The channel, or the reason (in words) it cannot be used."""
        key = (asset_name, channel_name)
        known = learned.get(key) or self._channels.get(key)
        if known is not None:
            return known
        org = session.caller.org_id
        assets = session.assets.list(Page(limit=1), name=asset_name, org_id=org).items
        if not assets:
            return f"unknown asset {asset_name!r}: create it first (readings of it are refused)"
        asset = assets[0]
        found = session.channels.list(
            Page(limit=1), asset_id=asset.id, name=channel_name, org_id=org
        ).items
        if found:
            channel = _Channel(found[0].id, session.readings.latest_ts_us(found[0].id))
        elif not self.policy.create_channels:
            return (
                f"unknown tag: asset {asset_name!r} has no channel {channel_name!r} "
                "(the connector does not create channels)"
            )
        elif not session.caller.can(Role.ENGINEER):
            return f"asset {asset_name!r} has no channel {channel_name!r}; an engineer can add it"
        else:
            created = SensorChannel(org_id=org, asset_id=asset.id, name=channel_name)
            session.channels.add(created)
            channel = _Channel(created.id, None)
        learned[key] = channel
        return channel
