"""``StoreSink``: the live pipeline's way into the store.

One transaction per batch that skips message ids stored before, maps (asset, channel)
names to sensor channels (creating unknown channels of known assets when the connector
allows it), inserts the readings, remembers the message ids and keeps every refusal with
its reason. Its heartbeat also prunes message ids past the retention window (when
given one). A store that cannot be reached raises StoreUnavailable (the pipeline spools);
a batch the store refuses for its content is stored message by message.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from dure.domain.connectors import Connector, StreamMessage, StreamRejection
from dure.domain.pages import Page
from dure.domain.plant import SensorChannel
from dure.domain.users import Caller, Role
from dure.errors import Forbidden, StoreRefused
from dure.ingest.streams.config import StreamPolicy
from dure.ingest.streams.pipeline import WriteResult
from dure.services.live.retention import MessageRetention
from dure.store.repositories.sensor_readings import ReadingColumns
from dure.store.session import Session, Store


def _plus(a: WriteResult, b: WriteResult) -> WriteResult:
    return WriteResult(
        *(x + y for x, y in zip(dataclasses.astuple(a), dataclasses.astuple(b), strict=True))
    )


def _printable(text: str) -> str:
    return "".join(c if c.isprintable() else "?" for c in text)


@dataclass
class _Channel:
    id: str
    last_ts_us: int | None


class StoreSink:
    """Writes batches of one connector, acting as the user who created it."""

    def __init__(
        self,
        store: Store,
        connector: Connector,
        policy: StreamPolicy,
        retention: MessageRetention | None = None,
    ) -> None:
        self.store = store
        self.connector = connector
        self.policy = policy
        self.retention = retention
        self._channels: dict[tuple[str, str], _Channel] = {}
        self._caller: Caller | None = None
        self._caller_at = 0.0

    def write(
        self, messages: list[StreamMessage], rejections: list[StreamRejection]
    ) -> WriteResult:
        """Store one batch in one transaction; StoreUnavailable when the store is down."""
        try:
            return self._write_batch(messages, rejections)
        except StoreRefused:
            if len(messages) + len(rejections) <= 1:
                raise
        # The store refused the batch for its content (a value it cannot hold): store
        # the messages one by one, so one bad message cannot stop the stream.
        total = WriteResult()
        for m in messages:
            try:
                part = self._write_batch([m], [])
            except StoreRefused as exc:
                refusal = StreamRejection(
                    f"the store refused this message: {exc.reason}"[:2000],
                    m.received_us,
                    m.topic,
                    m.message_id,
                )
                part = self._write_batch([], [refusal])
            total = _plus(total, part)
        for r in rejections:
            try:
                part = self._write_batch([], [r])
            except StoreRefused:
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
        """Write the runner's status onto the connector row, then prune a batch of old
        message ids when due (StoreUnavailable when the store is down)."""
        caller = self._current_caller()
        with self.store.session(caller) as session:
            session.connectors.beat(self.connector.id, status)
        if self.retention is not None:
            self.retention.prune_some(caller)

    def _current_caller(self) -> Caller:
        # Re-read the creator's role now and then: a disabled user's connector stops.
        if self._caller is None or time.monotonic() - self._caller_at > 30:
            with self.store.system() as system:
                self._caller = system.identities.caller_for_user(
                    self.connector.org_id, self.connector.created_by
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
