"""Share grants, seen by both sides, created and revoked by the grantor's admin."""

from __future__ import annotations

from sqlalchemy import ColumnElement, insert, or_, select, update

from dure.domain.grants import GrantScope, ShareGrant
from dure.domain.ids import utcnow
from dure.domain.users import Role
from dure.errors import Forbidden, InvalidInput
from dure.store import tables as t
from dure.store.rows import to_row
from dure.store.scoped import ScopedRepository


class GrantRepository(ScopedRepository[ShareGrant]):
    """Grants where the caller is grantor or grantee."""

    table = t.share_grants
    entity = ShareGrant
    resource = "share_grant"
    write_role = Role.ADMIN

    def visible(self) -> ColumnElement[bool]:
        me = self.caller.org_id
        return or_(t.share_grants.c.grantor_org_id == me, t.share_grants.c.grantee_org_id == me)

    def _audit_shared_reads(self, items: list[ShareGrant]) -> None:
        return None

    def grant(self, item: ShareGrant) -> ShareGrant:
        """Create a grant from the caller's organisation to a linked organisation."""
        self.require_write()
        item.grantor_org_id = self.caller.org_id
        item.created_by = self.caller.user_id
        try:
            GrantScope(item.scope)
        except ValueError as exc:
            raise InvalidInput(
                "scope", f"{item.scope!r}: use one of {[s.value for s in GrantScope]}"
            ) from exc
        if item.grantee_org_id == self.caller.org_id:
            raise InvalidInput("grantee_org_id", "a grant to your own organisation means nothing")
        linked = self.conn.execute(
            select(t.supplier_links.c.id).where(
                or_(
                    (t.supplier_links.c.oem_id == self.caller.org_id)
                    & (t.supplier_links.c.supplier_id == item.grantee_org_id),
                    (t.supplier_links.c.supplier_id == self.caller.org_id)
                    & (t.supplier_links.c.oem_id == item.grantee_org_id),
                )
            )
        ).first()
        if linked is None:
            raise InvalidInput(
                "grantee_org_id",
                f"{item.grantee_org_id!r} is not an organisation you are linked to",
            )
        self.require_own(t.part_numbers, "part_id", item.part_id)
        if item.part_id is not None:
            item.part_number = self.conn.execute(
                select(t.part_numbers.c.number).where(t.part_numbers.c.id == item.part_id)
            ).scalar_one()
        self.add_unchecked(item)
        self.audit.record(
            "grant",
            self.resource,
            item.id,
            org_id=item.grantee_org_id,
            detail={"scope": str(item.scope), "part_id": item.part_id},
        )
        return item

    def add_unchecked(self, item: ShareGrant) -> None:
        """Insert a grant already checked by ``grant``."""
        self.conn.execute(insert(self.table).values(**to_row(item, self.table)))
        self.audit.record("create", self.resource, item.id)

    def revoke(self, grant_id: str) -> ShareGrant:
        """Revoke a grant the caller's organisation gave; it stops working at once."""
        grant = self.get(grant_id)
        if grant.grantor_org_id != self.caller.org_id:
            raise Forbidden("only the organisation that gave a grant may revoke it")
        self.require_write()
        now = utcnow()
        self.conn.execute(
            update(t.share_grants).where(t.share_grants.c.id == grant_id).values(revoked_at=now)
        )
        for org in (grant.grantor_org_id, grant.grantee_org_id):
            self.audit.record("revoke", self.resource, grant_id, org_id=org)
        grant.revoked_at = now
        return grant
