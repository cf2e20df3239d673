"""The tenant-scoped repository: every query is limited to what the caller may see.

A repository is built for one caller. Reads see the caller's own organisation's
rows, plus rows another organisation shared through an active share grant (each
such read is audited under the owner's organisation). Writes only ever touch the
caller's own rows, need a minimum role, and are audited in the same transaction.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar, Generic, TypeVar

from sqlalchemy import (
    ColumnElement,
    Connection,
    Row,
    Table,
    and_,
    false,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from dure.domain.grants import GrantScope
from dure.domain.ids import utcnow
from dure.domain.pages import Listing, Page
from dure.domain.times import as_utc
from dure.domain.users import Caller, Role
from dure.errors import Conflict, Forbidden, InvalidInput, NotFound
from dure.store.audit_log import AuditLog
from dure.store.rows import to_entity, to_row
from dure.store.tables import share_grants

E = TypeVar("E")
__all__ = ["ActiveGrant", "Listing", "Page", "ScopedRepository", "active_grants"]


@dataclass(frozen=True)
class ActiveGrant:
    """A grant in force for the caller as grantee."""

    id: str
    grantor_org_id: str
    part_id: str | None


class ScopedRepository(Generic[E]):
    """Reads and writes of one table, limited to one caller's tenant scope."""

    table: ClassVar[Table]
    entity: ClassVar[type]
    resource: ClassVar[str]
    grant_scope: ClassVar[GrantScope | None] = None
    write_role: ClassVar[Role] = Role.ENGINEER
    order_by: ClassVar[str] = "created_at"

    def __init__(self, conn: Connection, caller: Caller, audit: AuditLog) -> None:
        self.conn = conn
        self.caller = caller
        self.audit = audit

    # ---- visibility -------------------------------------------------------
    def active_grants(self) -> list[ActiveGrant]:
        """Grants of this repository's scope that the caller holds right now."""
        if self.grant_scope is None:
            return []
        return active_grants(self.conn, self.caller.org_id, self.grant_scope)

    def visible(self) -> ColumnElement[bool]:
        """SQL condition for rows the caller may read."""
        own = self.table.c.org_id == self.caller.org_id
        shared = [self._grant_condition(g) for g in self.active_grants()]
        return or_(own, *shared) if shared else own

    def _grant_condition(self, grant: ActiveGrant) -> ColumnElement[bool]:
        cond = self.table.c.org_id == grant.grantor_org_id
        if grant.part_id is not None:
            if "part_id" not in self.table.c:
                return false()
            cond = and_(cond, self.table.c.part_id == grant.part_id)
        return cond

    # ---- reads ------------------------------------------------------------
    def get(self, entity_id: str) -> E:
        """The entity with ``entity_id`` if the caller may see it, else NotFound."""
        row = self.conn.execute(
            select(self.table).where(self.table.c.id == entity_id, self.visible())
        ).first()
        if row is None:
            raise NotFound(f"{self.resource} {entity_id!r} does not exist or is not yours")
        item: E = self.from_row(row)
        self._audit_shared_reads([item])
        return item

    def list(
        self, page: Page | None = None, *, since: datetime | None = None, **filters: Any
    ) -> Listing[E]:
        """A page of visible entities, newest first; ``filters`` are column equalities.

        ``since`` keeps only entities at or after that moment (by the listing's order column).
        """
        page = page or Page()
        query = select(self.table).where(self.visible())
        if since is not None:
            # SQLite keeps UTC wall-clock text: compare in UTC whatever zone was given.
            moment = since.astimezone(UTC) if since.tzinfo else since.replace(tzinfo=UTC)
            query = query.where(self.table.c[self.order_by] >= moment)
        for name, value in filters.items():
            if value is None:
                continue
            if name not in self.table.c:
                raise InvalidInput(name, f"{self.resource} cannot be filtered by {name!r}")
            query = query.where(self.table.c[name] == value)
        order = self.table.c[self.order_by]
        query = query.order_by(order.desc(), self.table.c.id).limit(page.limit + 1)
        rows = self.conn.execute(query.offset(page.offset)).all()
        items: list[E] = [self.from_row(r) for r in rows[: page.limit]]
        self._audit_shared_reads(items)
        more = len(rows) > page.limit
        return Listing(items, page.limit, page.offset, page.offset + page.limit if more else None)

    def list_own(self, **filters: Any) -> list[E]:
        """Every row of the caller's own organisation matching ``filters`` (column
        equalities), oldest first by the listing's order column; never anyone else's."""
        query = select(self.table).where(self.table.c.org_id == self.caller.org_id)
        query = self._filtered(query, filters)
        order = self.table.c[self.order_by]
        rows = self.conn.execute(query.order_by(order, self.table.c.id)).all()
        return [self.from_row(r) for r in rows]

    def own_between(self, start: datetime | None, end: datetime | None, **filters: Any) -> list[E]:
        """The caller's own rows whose order column lies in ``[start, end)``, oldest first."""
        order = self.table.c[self.order_by]
        query = self._own_range(select(self.table), start, end, filters)
        rows = self.conn.execute(query.order_by(order, self.table.c.id)).all()
        return [self.from_row(r) for r in rows]

    def own_oldest(
        self, limit: int, start: datetime | None = None, end: datetime | None = None, **filters: Any
    ) -> list[E]:
        """The oldest ``limit`` of the caller's own rows in ``[start, end)`` (by the order
        column, then id), oldest first: one bounded read however long the history."""
        order = self.table.c[self.order_by]
        query = self._own_range(select(self.table), start, end, filters)
        rows = self.conn.execute(query.order_by(order, self.table.c.id).limit(_limit(limit))).all()
        return [self.from_row(r) for r in rows]

    def own_newest(
        self, limit: int, start: datetime | None = None, end: datetime | None = None, **filters: Any
    ) -> list[E]:
        """The newest ``limit`` of the caller's own rows in ``[start, end)``, returned
        oldest first (the same order as ``own_between``)."""
        order = self.table.c[self.order_by]
        query = self._own_range(select(self.table), start, end, filters)
        rows = self.conn.execute(
            query.order_by(order.desc(), self.table.c.id.desc()).limit(_limit(limit))
        ).all()
        return [self.from_row(r) for r in reversed(rows)]

    def own_count(
        self, start: datetime | None = None, end: datetime | None = None, **filters: Any
    ) -> int:
        """How many of the caller's own rows lie in ``[start, end)`` (a count, no rows read)."""
        query = self._own_range(select(func.count()).select_from(self.table), start, end, filters)
        return int(self.conn.execute(query).scalar_one())

    def _own_range(
        self, query: Any, start: datetime | None, end: datetime | None, filters: dict[str, Any]
    ) -> Any:
        query = query.where(self.table.c.org_id == self.caller.org_id)
        order = self.table.c[self.order_by]
        if start is not None:
            query = query.where(order >= as_utc(start))
        if end is not None:
            query = query.where(order < as_utc(end))
        return self._filtered(query, filters)

    def own(self, entity_id: str, field: str) -> E:
        """One of the caller's own rows; InvalidInput naming ``field`` when it is not
        (absent, or another organisation's: the two are not told apart)."""
        row = self.conn.execute(
            select(self.table).where(
                self.table.c.id == entity_id, self.table.c.org_id == self.caller.org_id
            )
        ).first()
        if row is None:
            raise InvalidInput(
                field, f"{entity_id!r} is not one of your organisation's {self.table.name}"
            )
        return self.from_row(row)

    def _filtered(self, query: Any, filters: dict[str, Any]) -> Any:
        for name, value in filters.items():
            if name not in self.table.c:
                raise InvalidInput(name, f"{self.resource} cannot be filtered by {name!r}")
            query = query.where(self.table.c[name] == value)
        return query

    def list_all(self, **filters: Any) -> list[E]:
        """Every visible entity matching ``filters``, read page by page, newest first."""
        found: list[E] = []
        page = Page(limit=1000)
        while True:
            listing = self.list(page, **filters)
            found += listing.items
            if listing.next_offset is None:
                return found
            page = Page(limit=1000, offset=listing.next_offset)

    def _audit_shared_reads(self, items: list[E]) -> None:
        by_owner: dict[str, list[str]] = {}
        for item in items:
            owner = getattr(item, "org_id")  # noqa: B009
            if owner != self.caller.org_id:
                by_owner.setdefault(owner, []).append(getattr(item, "id"))  # noqa: B009
        grants = {g.grantor_org_id: g.id for g in self.active_grants()} if by_owner else {}
        for owner, ids in by_owner.items():
            self.audit.record(
                "read_shared",
                self.resource,
                ids[0] if len(ids) == 1 else None,
                org_id=owner,
                grant_id=grants.get(owner),
                detail={"ids": ids, "count": len(ids)},
            )

    # ---- writes -----------------------------------------------------------
    def require_write(self) -> None:
        """Raise Forbidden unless the caller's role may write here."""
        if not self.caller.can(self.write_role):
            raise Forbidden(
                f"writing {self.resource} needs the {self.write_role.value} role or higher; "
                f"you are {self.caller.role.value}"
            )

    def add(self, item: E) -> E:
        """Insert ``item`` into the caller's own organisation (its org_id is forced)."""
        self.require_write()
        if getattr(item, "org_id", None) != self.caller.org_id:
            item = dataclasses.replace(item, org_id=self.caller.org_id)  # type: ignore[type-var]
        check_text(item)
        self.check_references(item)
        try:
            with self.conn.begin_nested():
                values = {**self.to_columns(item), **self.extra_columns(item)}
                self.conn.execute(insert(self.table).values(**values))
        except IntegrityError as exc:
            raise Conflict(_clash(self.resource, exc)) from exc
        self.audit.record("create", self.resource, getattr(item, "id"))  # noqa: B009
        return item

    def update_fields(self, entity_id: str, **changes: Any) -> E:
        """Change columns of one of the caller's own rows."""
        self.require_write()
        current = self.get(entity_id)
        if getattr(current, "org_id") != self.caller.org_id:  # noqa: B009
            raise Forbidden(f"{self.resource} {entity_id!r} belongs to another organisation")
        changed = dataclasses.replace(current, **changes)  # type: ignore[type-var]
        check_text(changed)
        self.check_references(changed)
        values = {k: v for k, v in self.to_columns(changed).items() if k in changes}
        if values:
            self.conn.execute(
                update(self.table)
                .where(self.table.c.id == entity_id, self.table.c.org_id == self.caller.org_id)
                .values(**values)
            )
            self.audit.record("update", self.resource, entity_id, detail={"fields": sorted(values)})
        return changed

    def from_row(self, row: Row[Any]) -> E:
        """Hook: the entity a row of the table holds (e.g. with its secrets opened)."""
        item: E = to_entity(self.entity, row)
        return item

    def to_columns(self, item: E) -> dict[str, Any]:
        """Hook: the column values that store ``item`` (e.g. with its secrets sealed)."""
        return to_row(item, self.table)

    def check_references(self, item: E) -> None:
        """Hook: raise when ``item`` points at rows the caller does not own."""

    def extra_columns(self, item: E) -> dict[str, Any]:
        """Hook: stored columns that are derived from ``item`` rather than fields of it."""
        return {}

    def require_own(self, table: Table, field: str, value: str | None) -> None:
        """Raise InvalidInput unless ``value`` is the id of a ``table`` row of the caller."""
        if value is None:
            return
        found = self.conn.execute(
            select(table.c.id).where(table.c.id == value, table.c.org_id == self.caller.org_id)
        ).first()
        if found is None:
            raise InvalidInput(field, f"{value!r} is not one of your organisation's {table.name}")


def _limit(limit: int) -> int:
    if limit < 1:
        raise InvalidInput("limit", f"must be at least 1, got {limit}")
    return limit


def active_grants(conn: Connection, grantee_org_id: str, scope: GrantScope) -> list[ActiveGrant]:
    """Grants of ``scope`` to ``grantee_org_id`` that are neither revoked nor expired."""
    now: datetime = utcnow()
    rows = conn.execute(
        select(share_grants.c.id, share_grants.c.grantor_org_id, share_grants.c.part_id).where(
            share_grants.c.grantee_org_id == grantee_org_id,
            share_grants.c.scope == scope.value,
            share_grants.c.revoked_at.is_(None),
            or_(share_grants.c.expires_at.is_(None), share_grants.c.expires_at > now),
        )
    ).all()
    return [ActiveGrant(r.id, r.grantor_org_id, r.part_id) for r in rows]


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def check_text(item: object) -> None:
    """InvalidInput naming the first text field that holds a NUL or another control
    character (tabs and line breaks are allowed); PostgreSQL cannot even store a NUL."""
    for f in dataclasses.fields(item):  # type: ignore[arg-type]
        value = getattr(item, f.name)
        if isinstance(value, str) and _CONTROL.search(value):
            raise InvalidInput(f.name, "holds a control character (such as NUL): remove it")


def _clash(resource: str, exc: IntegrityError) -> str:
    """What clashed, by column, without the database's own words (they name tables)."""
    text = str(exc.orig) if exc.orig is not None else str(exc)
    columns = re.findall(r"UNIQUE constraint failed: ([\w., ]+)", text)  # SQLite
    names = [c.split(".")[-1] for c in columns[0].split(", ")] if columns else []
    if not names:  # PostgreSQL: Key (a, b)=(...) already exists
        keys = re.search(r"Key \(([^)]*)\)=", text)
        names = [n.strip() for n in keys.group(1).split(",")] if keys else []
    names = [n for n in names if n != "org_id"]
    if names:
        return f"a {resource} with this {' and '.join(names)} already exists"
    return f"the {resource} clashes with one already stored"
