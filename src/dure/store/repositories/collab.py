"""Partners, model packages, KPI reports and federated rounds, scoped like everything else."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from dure.domain.collab import (
    FederatedRound,
    KpiReport,
    ModelPackage,
    Partner,
    PartnerInvitation,
)
from dure.domain.grants import GrantScope
from dure.domain.ids import utcnow
from dure.domain.users import Role
from dure.errors import NotFound
from dure.store import tables as t
from dure.store.audit_log import AuditLog
from dure.store.rows import to_entity, to_row
from dure.store.scoped import ScopedRepository


class PartnerRepository(ScopedRepository[Partner]):
    """The caller's organisation's partners on other installs; admins change them."""

    table = t.partners
    entity = Partner
    resource = "partner"
    write_role = Role.ADMIN

    def touch(self, partner_id: str) -> None:
        """Note that we synchronised with one of our partners just now (not audited)."""
        self.conn.execute(
            update(t.partners)
            .where(t.partners.c.id == partner_id, t.partners.c.org_id == self.caller.org_id)
            .values(last_sync_at=utcnow())
        )

    def by_partner_org(self, partner_org_id: str) -> Partner:
        """Our partner record of ``partner_org_id``; NotFound when we are not linked."""
        row = self.conn.execute(
            select(t.partners).where(
                t.partners.c.org_id == self.caller.org_id,
                t.partners.c.partner_org_id == partner_org_id,
            )
        ).first()
        if row is None:
            raise NotFound(f"organisation {partner_org_id!r} is not a partner of yours")
        return to_entity(Partner, row)  # type: ignore[no-any-return]


class InvitationRepository(ScopedRepository[PartnerInvitation]):
    """Link invitations the caller's organisation issued."""

    table = t.partner_invitations
    entity = PartnerInvitation
    resource = "partner_invitation"
    write_role = Role.ADMIN


class PackageRepository(ScopedRepository[ModelPackage]):
    """Packages the caller published or imported, and those shared with it for model use."""

    table = t.model_packages
    entity = ModelPackage
    resource = "model_package"
    grant_scope = GrantScope.MODEL_USE

    def revoked_ids(self) -> set[str]:
        """Publisher's ids (``origin_id``) of the caller's packages that were revoked (by us
        or their publisher)."""
        rows = self.conn.execute(
            select(t.model_packages.c.origin_id).where(
                t.model_packages.c.org_id == self.caller.org_id,
                t.model_packages.c.revoked_at.is_not(None),
            )
        )
        return set(rows.scalars())

    def own_by_origin(self, origin_id: str) -> ModelPackage | None:
        """The caller's own row of the publisher's package ``origin_id`` (the one it
        published, or its imported copy), or None."""
        row = self.conn.execute(
            select(t.model_packages).where(
                t.model_packages.c.org_id == self.caller.org_id,
                t.model_packages.c.origin_id == origin_id,
            )
        ).first()
        return None if row is None else self.from_row(row)

    def has(self, origin_id: str) -> bool:
        """True when the caller already keeps the publisher's package ``origin_id``."""
        return self.own_by_origin(origin_id) is not None

    def withdraw(self, origin_id: str) -> ModelPackage | None:
        """Its publisher revoked a package we keep: mark it and its model version revoked.

        Returns the package, or None when we do not keep it or it was already revoked.
        """
        package = self.own_by_origin(origin_id)
        if package is None or package.revoked_at is not None:
            return None
        now = utcnow()
        self.conn.execute(
            update(t.model_packages)
            .where(t.model_packages.c.id == package.id)
            .values(revoked_at=now)
        )
        if package.model_version_id:
            self.conn.execute(
                update(t.model_versions)
                .where(
                    t.model_versions.c.id == package.model_version_id,
                    t.model_versions.c.org_id == self.caller.org_id,
                )
                .values(status="revoked")
            )
        self.audit.record("revoke", self.resource, package.id, detail={"by": "publisher"})
        package.revoked_at = now
        return package

    def keep_parity(self, package_id: str, parity: dict[str, Any]) -> None:
        """Keep the outcome of a parity check of one of our imported packages (audited)."""
        self.require_write()
        done = self.conn.execute(
            update(t.model_packages)
            .where(
                t.model_packages.c.id == package_id,
                t.model_packages.c.org_id == self.caller.org_id,
            )
            .values(parity=parity)
        )
        if done.rowcount != 1:
            raise NotFound(f"model_package {package_id!r} does not exist or is not yours")
        self.audit.record(
            "check_parity",
            self.resource,
            package_id,
            detail={"status": parity.get("status"), "cause": parity.get("cause")},
        )


class KpiReportRepository(ScopedRepository[KpiReport]):
    """The caller's KPI reports, and its suppliers' reports shared under a KPI grant."""

    table = t.kpi_reports
    entity = KpiReport
    resource = "kpi_report"
    grant_scope = GrantScope.KPI_REPORTS
    order_by = "period_start"


class RoundRepository(ScopedRepository[FederatedRound]):
    """Federated rounds the caller's organisation started."""

    table = t.federated_rounds
    entity = FederatedRound
    resource = "federated_round"


# ---- what the peer gate needs before there is a caller ------------------------------------
class PeerGate:
    """Partner links, invitations, nonces and org keys, for checking requests from other
    installs before anyone is the caller (a system view: never handed to a tenant)."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def partner_between(self, org_id: str, partner_org_id: str) -> Partner | None:
        """The partner record ``org_id`` keeps of ``partner_org_id``, if any."""
        row = self._conn.execute(
            select(t.partners).where(
                t.partners.c.org_id == org_id, t.partners.c.partner_org_id == partner_org_id
            )
        ).first()
        return None if row is None else to_entity(Partner, row)

    def remember_nonce(self, partner_id: str, nonce: str, keep: timedelta) -> bool:
        """Note a request's nonce; False when it was seen before (a replay). Old ones go."""
        now = utcnow()
        self._conn.execute(delete(t.peer_nonces).where(t.peer_nonces.c.seen_at < now - keep))
        try:
            with self._conn.begin_nested():
                self._conn.execute(
                    insert(t.peer_nonces).values(partner_id=partner_id, nonce=nonce, seen_at=now)
                )
        except IntegrityError:
            return False
        return True

    def invitation_by_code_hash(self, code_hash: str) -> PartnerInvitation | None:
        """The invitation with this code hash (the joiner has no caller yet)."""
        row = self._conn.execute(
            select(t.partner_invitations).where(t.partner_invitations.c.code_hash == code_hash)
        ).first()
        return None if row is None else to_entity(PartnerInvitation, row)

    def mark_invitation_used(self, invitation_id: str, by_org_id: str) -> None:
        """Spend an invitation: it links one partner, once."""
        self._conn.execute(
            update(t.partner_invitations)
            .where(t.partner_invitations.c.id == invitation_id)
            .values(used_at=utcnow(), used_by_org_id=by_org_id)
        )

    def add_partner(self, partner: Partner) -> None:
        """Store a partner record (the link services check everything first)."""
        self._conn.execute(insert(t.partners).values(**to_row(partner, t.partners)))

    def withdraw_copies(self, origin_id: str, publisher_org_id: str, audit: AuditLog) -> list[str]:
        """The publisher revoked ``origin_id``: mark the copies other organisations of this
        install imported (and their model versions) revoked, as a partner's sync would;
        each in its organisation's audit log. The organisations' ids."""
        rows = self._conn.execute(
            select(t.model_packages).where(
                t.model_packages.c.origin_id == origin_id,
                t.model_packages.c.publisher_org_id == publisher_org_id,
                t.model_packages.c.role == "imported",
                t.model_packages.c.revoked_at.is_(None),
            )
        ).all()
        now = utcnow()
        for row in rows:
            self._conn.execute(
                update(t.model_packages)
                .where(t.model_packages.c.id == row.id)
                .values(revoked_at=now)
            )
            if row.model_version_id:
                self._conn.execute(
                    update(t.model_versions)
                    .where(t.model_versions.c.id == row.model_version_id)
                    .values(status="revoked")
                )
            audit.record(
                "revoke", "model_package", row.id, org_id=row.org_id, detail={"by": "publisher"}
            )
        return [row.org_id for row in rows]

    def parity_candidates(self) -> list[ModelPackage]:
        """Imported, unrevoked packages of every organisation here that carry a golden set
        (the parity schedule's round; the caller-free view of the job runner)."""
        rows = self._conn.execute(
            select(t.model_packages).where(
                t.model_packages.c.role == "imported", t.model_packages.c.revoked_at.is_(None)
            )
        ).all()
        found = [to_entity(ModelPackage, r) for r in rows]
        return [p for p in found if p.card.get("golden")]

    def org_public_key(self, org_id: str) -> str | None:
        """The public key (PEM) of one of this install's organisations."""
        row = self._conn.execute(
            select(t.org_keys.c.public_pem).where(t.org_keys.c.org_id == org_id)
        ).first()
        return None if row is None else str(row.public_pem)

    def replace_org_public_key(self, org_id: str, public_pem: str, fingerprint: str) -> None:
        """Record an organisation's (new) public key; its private key is in the key folder."""
        self._conn.execute(delete(t.org_keys).where(t.org_keys.c.org_id == org_id))
        self._conn.execute(
            insert(t.org_keys).values(
                org_id=org_id, public_pem=public_pem, fingerprint=fingerprint, created_at=utcnow()
            )
        )
