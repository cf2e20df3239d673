"""Repositories of live connectors, the message ids they stored, and what they refused."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, Row, delete, func, insert, select, tuple_, update

from dure.domain.connectors import Connector, StreamRejection
from dure.domain.ids import utcnow
from dure.domain.users import Caller
from dure.errors import NotFound
from dure.store import tables as t
from dure.store.audit_log import AuditLog
from dure.store.bulk import insert_rows
from dure.store.rows import to_entity, to_row
from dure.store.scoped import ScopedRepository
from dure.store.secrets import SecretBox

# Configuration fields that hold a secret: sealed in the database, clear in the entity.
SECRET_FIELDS = ("password",)

_IN_CHUNK = 500


def connector_key(connector_id: str) -> int:
    """The integer key under which a connector's message ids are kept."""
    return t.channel_key(connector_id)


class ConnectorRepository(ScopedRepository[Connector]):
    """The caller's connectors; the runner writes their status and message log."""

    table = t.connectors
    entity = Connector
    resource = "connector"

    def __init__(self, conn: Connection, caller: Caller, audit: AuditLog, secrets: SecretBox):
        super().__init__(conn, caller, audit)
        self.secrets = secrets

    def from_row(self, row: Row[Any]) -> Connector:
        """The connector with its secrets opened (they are sealed in the database)."""
        connector = to_entity(Connector, row)
        config = dict(connector.config)
        for name in SECRET_FIELDS:
            if isinstance(config.get(name), str):
                config[name] = self.secrets.open(config[name])
        connector.config = config
        return connector

    def to_columns(self, item: Connector) -> dict[str, Any]:
        """The connector's columns with its secrets sealed."""
        values = to_row(item, self.table)
        config = dict(values["config"])
        for name in SECRET_FIELDS:
            if isinstance(config.get(name), str):
                config[name] = self.secrets.seal(config[name])
        values["config"] = config
        return values

    def get_by_name(self, name: str) -> Connector:
        """The caller's connector called ``name``."""
        row = self.conn.execute(
            select(t.connectors).where(
                t.connectors.c.org_id == self.caller.org_id, t.connectors.c.name == name
            )
        ).first()
        if row is None:
            raise NotFound(f"no connector named {name!r}; create it with dure connect or the API")
        return self.from_row(row)

    def beat(self, connector_id: str, status: dict[str, Any]) -> None:
        """Record the runner's status (not audited: it is written every few seconds)."""
        self.conn.execute(
            update(t.connectors)
            .where(t.connectors.c.id == connector_id, t.connectors.c.org_id == self.caller.org_id)
            .values(status=status, heartbeat_at=utcnow())
        )

    def stored_ids(self, connector_id: str, message_ids: Sequence[str]) -> set[str]:
        """Which of ``message_ids`` this connector has stored before."""
        key = connector_key(connector_id)
        c = t.stream_messages.c
        found: set[str] = set()
        for start in range(0, len(message_ids), _IN_CHUNK):
            chunk = message_ids[start : start + _IN_CHUNK]
            found.update(
                self.conn.execute(
                    select(c.message_id).where(c.connector_key == key, c.message_id.in_(chunk))
                ).scalars()
            )
        return found

    def remember(self, connector_id: str, messages: Iterable[tuple[str, int]]) -> None:
        """Remember stored message ids (id, received µs), in the batch's transaction."""
        key = connector_key(connector_id)
        rows = [(key, m, r) for m, r in messages]
        insert_rows(
            self.conn, t.stream_messages, ("connector_key", "message_id", "received_us"), rows
        )

    def forget_before(self, connector_id: str, before_us: int, limit: int) -> int:
        """Forget at most ``limit`` of this connector's message ids received before
        ``before_us``; how many went."""
        return forget_message_ids(self.conn, before_us, limit, connector_key(connector_id))

    def count_stored(self, connector_id: str) -> int:
        """How many distinct messages this connector has stored."""
        c = t.stream_messages.c
        return int(
            self.conn.execute(
                select(func.count()).where(c.connector_key == connector_key(connector_id))
            ).scalar_one()
        )

    def reject(self, connector_id: str, rejections: Sequence[StreamRejection]) -> None:
        """Keep what could not be stored, with the reason in words."""
        rows = [
            {
                "org_id": self.caller.org_id,
                "connector_id": connector_id,
                "received_us": r.received_us,
                "topic": r.topic[:512],
                "message_id": r.message_id[:128],
                "reason": r.reason,
                "excerpt": r.excerpt,
            }
            for r in rejections
        ]
        if rows:
            self.conn.execute(insert(t.stream_rejects), rows)

    def rejects(self, connector_id: str, limit: int = 100) -> list[dict[str, Any]]:
        """The newest refusals of a visible connector."""
        self.get(connector_id)
        c = t.stream_rejects.c
        rows = self.conn.execute(
            select(c.id, c.received_us, c.topic, c.message_id, c.reason, c.excerpt)
            .where(c.connector_id == connector_id, c.org_id == self.caller.org_id)
            .order_by(c.id.desc())
            .limit(limit)
        ).all()
        return [dict(r._mapping) for r in rows]


def forget_message_ids(conn: Connection, before_us: int, limit: int, key: int | None = None) -> int:
    """Delete at most ``limit`` message ids received before ``before_us`` (of the connector
    ``key``, or of every connector); how many went. Bounded, so a transaction stays short."""
    c = t.stream_messages.c
    old = select(c.connector_key, c.message_id).where(c.received_us < before_us)
    if key is not None:
        old = old.where(c.connector_key == key)
    gone = conn.execute(
        delete(t.stream_messages).where(tuple_(c.connector_key, c.message_id).in_(old.limit(limit)))
    )
    return int(gone.rowcount)


class ConnectorRoster:
    """Every organisation's enabled connectors, for the supervisor that runs them all."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def forget_before(self, before_us: int, limit: int) -> int:
        """Forget at most ``limit`` message ids (of any connector) received before
        ``before_us``; how many went."""
        return forget_message_ids(self._conn, before_us, limit)

    def enabled(self) -> list[tuple[str, str, str, str]]:
        """(id, name, org slug, config digest) of every enabled connector."""
        c, o = t.connectors.c, t.organisations.c
        rows = self._conn.execute(
            select(c.id, c.name, o.slug, c.config)
            .join(t.organisations, o.id == c.org_id)
            .where(c.enabled.is_(True))
        ).all()
        return [
            (
                r.id,
                r.name,
                r.slug,
                hashlib.sha256(json.dumps(r.config, sort_keys=True).encode()).hexdigest(),
            )
            for r in rows
        ]
