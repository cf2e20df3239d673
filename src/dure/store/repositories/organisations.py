"""Organisations and supplier links: who exists, and who supplies whom."""

from __future__ import annotations

import re

from sqlalchemy import Connection, insert, or_, select
from sqlalchemy.exc import IntegrityError

from dure.domain.organisations import Organisation, OrgKind, SupplierLink
from dure.domain.users import Caller, Role
from dure.errors import Conflict, Forbidden, InvalidInput, NotFound
from dure.store.audit_log import AuditLog
from dure.store.rows import to_entity, to_row
from dure.store.scoped import check_text
from dure.store.tables import organisations, supplier_links

_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")


class OrganisationRepository:
    """Organisations visible to a caller: its own, those it is linked to, all for an operator."""

    def __init__(self, conn: Connection, caller: Caller | None, audit: AuditLog) -> None:
        self.conn = conn
        self.caller = caller
        self.audit = audit

    def _linked_ids(self) -> list[str]:
        assert self.caller is not None
        me = self.caller.org_id
        rows = self.conn.execute(
            select(supplier_links.c.oem_id, supplier_links.c.supplier_id).where(
                or_(supplier_links.c.oem_id == me, supplier_links.c.supplier_id == me)
            )
        ).all()
        return [r.supplier_id if r.oem_id == me else r.oem_id for r in rows]

    def _is_operator(self) -> bool:
        return self.caller is None or self.caller.org_kind == OrgKind.OPERATOR.value

    def get(self, org_id: str) -> Organisation:
        """One organisation, if it is the caller's, linked to it, or the caller is an operator."""
        visible = self._is_operator() or org_id == self.caller.org_id  # type: ignore[union-attr]
        if not visible and org_id not in self._linked_ids():
            raise NotFound(f"organisation {org_id!r} does not exist or is not linked to you")
        row = self.conn.execute(select(organisations).where(organisations.c.id == org_id)).first()
        if row is None:
            raise NotFound(f"organisation {org_id!r} does not exist or is not linked to you")
        return to_entity(Organisation, row)

    def get_by_slug(self, slug: str) -> Organisation:
        """Look an organisation up by its short name (used by the CLI, which acts as operator)."""
        row = self.conn.execute(select(organisations).where(organisations.c.slug == slug)).first()
        if row is None:
            raise NotFound(f"no organisation with the short name {slug!r}; see `dure org list`")
        return self.get(row.id)

    def slug_taken(self, slug: str) -> bool:
        """True when an organisation of this install has the short name ``slug``."""
        found = self.conn.execute(
            select(organisations.c.id).where(organisations.c.slug == slug)
        ).first()
        return found is not None

    def list(self) -> list[Organisation]:
        """Every organisation the caller may see, by name."""
        query = select(organisations).order_by(organisations.c.name)
        if not self._is_operator():
            ids = [self.caller.org_id, *self._linked_ids()]  # type: ignore[union-attr]
            query = query.where(organisations.c.id.in_(ids))
        return [to_entity(Organisation, r) for r in self.conn.execute(query)]

    def suppliers_of(self, oem_id: str) -> list[Organisation]:
        """The suppliers linked to ``oem_id`` (which must be visible to the caller)."""
        self.get(oem_id)
        query = (
            select(organisations)
            .join(supplier_links, supplier_links.c.supplier_id == organisations.c.id)
            .where(supplier_links.c.oem_id == oem_id)
            .order_by(organisations.c.name)
        )
        return [to_entity(Organisation, r) for r in self.conn.execute(query)]

    def add(self, org: Organisation) -> Organisation:
        """Create an organisation; only the platform operator (or the CLI) may."""
        self._require_operator_admin("create organisations")
        if not _SLUG.match(org.slug):
            raise InvalidInput(
                "slug", f"{org.slug!r}: use 2-63 lower-case letters, digits and dashes"
            )
        if not org.name.strip():
            raise InvalidInput("name", "an organisation needs a name")
        check_text(org)
        try:
            with self.conn.begin_nested():
                self.conn.execute(insert(organisations).values(**to_row(org, organisations)))
        except IntegrityError as exc:
            raise Conflict(f"an organisation with the short name {org.slug!r} exists") from exc
        self.audit.record("create", "organisation", org.id, org_id=org.id)
        return org

    def link(self, oem_id: str, supplier_id: str) -> SupplierLink:
        """Record that ``supplier_id`` supplies ``oem_id``; grants no access to data."""
        self._require_operator_admin("link suppliers to OEMs")
        oem, supplier = self.get(oem_id), self.get(supplier_id)
        if oem.kind != OrgKind.OEM:
            raise InvalidInput("oem_id", f"{oem.name} is a {oem.kind}, not an OEM")
        if supplier.kind != OrgKind.SUPPLIER:
            raise InvalidInput(
                "supplier_id", f"{supplier.name} is a {supplier.kind}, not a supplier"
            )
        link = SupplierLink(oem_id=oem_id, supplier_id=supplier_id)
        try:
            with self.conn.begin_nested():
                self.conn.execute(insert(supplier_links).values(**to_row(link, supplier_links)))
        except IntegrityError as exc:
            raise Conflict(f"{supplier.name} is already linked to {oem.name}") from exc
        for org_id in (oem_id, supplier_id):
            self.audit.record("link", "supplier_link", link.id, org_id=org_id)
        return link

    def _require_operator_admin(self, what: str) -> None:
        if self.caller is None:
            return
        if self.caller.org_kind != OrgKind.OPERATOR.value or not self.caller.can(Role.ADMIN):
            raise Forbidden(f"only a platform operator's admin may {what}")
