"""Share grants, seen by both sides, created and revoked by the grantor's admin."""

from __future__ import annotations

from sqlalchemy import ColumnElement, insert, or_, select, update

from dure.domain.grants import GrantScope, ShareGrant
from dure.domain.ids import utcnow
from dure.domain.users import Role
from dure.errors import Forbidden, InvalidInput
from dure.store import tables as t
from dure.store.rows import to_entity, to_row
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

    # ---- grants in force --------------------------------------------------------------
    def given_in_force(self, grantee_org_id: str, scope: GrantScope) -> list[ShareGrant]:
        """The caller's grants of ``scope`` to ``grantee_org_id`` in force right now."""
        return self._in_force(
            t.share_grants.c.grantor_org_id == self.caller.org_id,
            t.share_grants.c.grantee_org_id == grantee_org_id,
            t.share_grants.c.scope == GrantScope(scope).value,
        )

    def held_in_force(self, scope: GrantScope) -> list[ShareGrant]:
        """Grants of ``scope`` the caller holds (as grantee) in force right now."""
        return self._in_force(
            t.share_grants.c.grantee_org_id == self.caller.org_id,
            t.share_grants.c.scope == GrantScope(scope).value,
        )

    def _in_force(self, *conditions: ColumnElement[bool]) -> list[ShareGrant]:
        now = utcnow()
        rows = self.conn.execute(
            select(t.share_grants)
            .where(
                *conditions,
                t.share_grants.c.revoked_at.is_(None),
                or_(t.share_grants.c.expires_at.is_(None), t.share_grants.c.expires_at > now),
            )
            .order_by(t.share_grants.c.created_at, t.share_grants.c.id)
        ).all()
        return [to_entity(ShareGrant, r) for r in rows]

    # ---- mirrors of grants given on a partner's install ------------------------------------
    def _linked_here(self, org_id: str) -> bool:
        """True when ``org_id`` (one of this install's organisations) keeps the caller, an
        organisation of another install, as a partner."""
        row = self.conn.execute(
            select(t.partners.c.id).where(
                t.partners.c.org_id == org_id, t.partners.c.partner_org_id == self.caller.org_id
            )
        ).first()
        return row is not None

    def keep_mirror(self, grant: ShareGrant) -> ShareGrant:
        """Keep (or update) our copy of a grant the caller, a partner on another install,
        gave one of our organisations; the grant's part is matched by part number."""
        if grant.grantor_org_id != self.caller.org_id:
            raise Forbidden("a partner may only tell us about grants it gave itself")
        if not self._linked_here(grant.grantee_org_id):
            raise Forbidden(f"{grant.grantee_org_id!r} is not an organisation linked to you here")
        if grant.part_number is not None:
            grant.part_id = self.conn.execute(
                select(t.part_numbers.c.id).where(
                    t.part_numbers.c.org_id == grant.grantee_org_id,
                    t.part_numbers.c.number == grant.part_number,
                )
            ).scalar()
            if grant.part_id is None:
                # the grantee has no such part (yet): the mirror can match nothing of ours
                grant.note = f"{grant.note} [part {grant.part_number} not made here]".strip()
        known = self.conn.execute(
            select(t.share_grants.c.grantor_org_id).where(t.share_grants.c.id == grant.id)
        ).first()
        if known is not None and known.grantor_org_id != self.caller.org_id:
            raise Forbidden("that grant id belongs to another organisation")
        if known is None:
            self.conn.execute(insert(t.share_grants).values(**to_row(grant, t.share_grants)))
        else:
            self.conn.execute(
                update(t.share_grants)
                .where(t.share_grants.c.id == grant.id)
                .values(expires_at=grant.expires_at, revoked_at=grant.revoked_at)
            )
        self.audit.record(
            "revoke" if grant.revoked_at else "grant_received",
            self.resource,
            grant.id,
            org_id=grant.grantee_org_id,
            grant_id=grant.id,
            detail={"scope": str(grant.scope), "part_number": grant.part_number},
        )
        return grant

    def given_to_caller_here(self) -> list[ShareGrant]:
        """Every grant our organisations gave the caller, a partner on another install
        (what its sync pulls), revoked ones included."""
        rows = self.conn.execute(
            select(t.share_grants).where(t.share_grants.c.grantee_org_id == self.caller.org_id)
        ).all()
        grants = [to_entity(ShareGrant, r) for r in rows]
        return [g for g in grants if self._linked_here(g.grantor_org_id)]

    def mirror_from_caller(self, scope: GrantScope, part_number: str) -> ShareGrant | None:
        """Our copy of a grant of ``scope`` for ``part_number`` (or for every part) that the
        caller, a partner on another install, gave one of our organisations; in force."""
        now = utcnow()
        receivers = select(t.partners.c.org_id).where(
            t.partners.c.partner_org_id == self.caller.org_id
        )
        row = self.conn.execute(
            select(t.share_grants)
            .where(
                t.share_grants.c.grantor_org_id == self.caller.org_id,
                t.share_grants.c.grantee_org_id.in_(receivers),
                t.share_grants.c.scope == GrantScope(scope).value,
                t.share_grants.c.revoked_at.is_(None),
                or_(t.share_grants.c.expires_at.is_(None), t.share_grants.c.expires_at > now),
                or_(
                    t.share_grants.c.part_number == part_number,
                    t.share_grants.c.part_number.is_(None),
                ),
            )
            .order_by(t.share_grants.c.created_at, t.share_grants.c.id)
        ).first()
        return None if row is None else to_entity(ShareGrant, row)

    def lock_given(self, grant_id: str) -> None:
        """Hold a grant the caller gave until the transaction ends (``SELECT … FOR
        UPDATE`` on PostgreSQL; SQLite serialises writers anyway), so two requests under
        it counting its budget at the same moment are counted one after the other."""
        self.conn.execute(
            select(t.share_grants.c.id)
            .where(
                t.share_grants.c.id == grant_id,
                t.share_grants.c.grantor_org_id == self.caller.org_id,
            )
            .with_for_update()
        )

    def set_review_before_send(self, grant_id: str, review: bool) -> ShareGrant:
        """Whether an admin approves each answer given under this grant before it leaves
        (root-cause grants); only the grantor's admins may change it."""
        grant = self.get(grant_id)
        if grant.grantor_org_id != self.caller.org_id:
            raise Forbidden("only the organisation that gave a grant may change it")
        self.require_write()
        self.conn.execute(
            update(t.share_grants)
            .where(t.share_grants.c.id == grant_id)
            .values(review_before_send=review)
        )
        self.audit.record("update", self.resource, grant_id, detail={"review_before_send": review})
        grant.review_before_send = review
        return grant

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
