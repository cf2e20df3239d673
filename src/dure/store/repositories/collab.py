"""Partners, model packages, KPI reports and federated rounds, scoped like everything else."""

from __future__ import annotations

from datetime import datetime, timedelta

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
from dure.store.rows import to_entity, to_row
from dure.store.scoped import ScopedRepository


class PartnerRepository(ScopedRepository[Partner]):
    """The caller's organisation's partners on other installs; admins change them."""

    table = t.partners
    entity = Partner
    resource = "partner"
    write_role = Role.ADMIN

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
def partner_between(conn: Connection, org_id: str, partner_org_id: str) -> Partner | None:
    """The partner record ``org_id`` keeps of ``partner_org_id``, if any (no caller needed)."""
    row = conn.execute(
        select(t.partners).where(
            t.partners.c.org_id == org_id, t.partners.c.partner_org_id == partner_org_id
        )
    ).first()
    return None if row is None else to_entity(Partner, row)


def remember_nonce(conn: Connection, partner_id: str, nonce: str, keep: timedelta) -> bool:
    """Note a request's nonce; False when it was seen before (a replay). Old ones are pruned."""
    now = utcnow()
    conn.execute(delete(t.peer_nonces).where(t.peer_nonces.c.seen_at < now - keep))
    try:
        with conn.begin_nested():
            conn.execute(
                insert(t.peer_nonces).values(partner_id=partner_id, nonce=nonce, seen_at=now)
            )
    except IntegrityError:
        return False
    return True


def invitation_by_code_hash(conn: Connection, code_hash: str) -> PartnerInvitation | None:
    """The invitation with this code hash (no caller: the joiner has none yet)."""
    row = conn.execute(
        select(t.partner_invitations).where(t.partner_invitations.c.code_hash == code_hash)
    ).first()
    return None if row is None else to_entity(PartnerInvitation, row)


def mark_invitation_used(conn: Connection, invitation_id: str, by_org_id: str) -> None:
    """Spend an invitation: it links one partner, once."""
    conn.execute(
        update(t.partner_invitations)
        .where(t.partner_invitations.c.id == invitation_id)
        .values(used_at=utcnow(), used_by_org_id=by_org_id)
    )


def insert_partner(conn: Connection, partner: Partner) -> None:
    """Store a partner record (the link services check everything first)."""
    conn.execute(insert(t.partners).values(**to_row(partner, t.partners)))


def org_public_key(conn: Connection, org_id: str) -> str | None:
    """The public key (PEM) of one of this install's organisations."""
    row = conn.execute(select(t.org_keys.c.public_pem).where(t.org_keys.c.org_id == org_id)).first()
    return None if row is None else str(row.public_pem)


def save_org_public_key(conn: Connection, org_id: str, public_pem: str, fingerprint: str) -> None:
    """Record an organisation's public key (its private key lives in the key folder)."""
    conn.execute(
        insert(t.org_keys).values(
            org_id=org_id, public_pem=public_pem, fingerprint=fingerprint, created_at=utcnow()
        )
    )


def touch_partner(conn: Connection, partner_id: str, moment: datetime) -> None:
    """Note when we last synchronised with a partner."""
    conn.execute(
        update(t.partners).where(t.partners.c.id == partner_id).values(last_sync_at=moment)
    )
