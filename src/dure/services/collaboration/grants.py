"""Share grants between installs: made and revoked at home, mirrored at the partner's.

The grantor's install decides (its own rows are the truth); the grantee's install keeps a
copy under the same id so both sides see the same grant and audit ids match. A mirror is
pushed on every change and pulled again at each sync, so a partner that was offline
catches up.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from dure.collab.peer_client import PartnerUnreachable
from dure.domain.grants import GrantScope, ShareGrant
from dure.domain.users import Caller
from dure.errors import InvalidInput
from dure.services.collaboration.context import Collab
from dure.store.session import Session


def grant_doc(grant: ShareGrant) -> dict[str, Any]:
    """What the partner's install is told about a grant (the part by its number)."""
    return {
        "id": grant.id,
        "grantor_org_id": grant.grantor_org_id,
        "grantee_org_id": grant.grantee_org_id,
        "scope": str(grant.scope),
        "part_number": grant.part_number,
        "expires_at": grant.expires_at.isoformat() if grant.expires_at else None,
        "revoked_at": grant.revoked_at.isoformat() if grant.revoked_at else None,
        "note": grant.note,
        "created_at": grant.created_at.isoformat(),
    }


def _push(ctx: Collab, caller: Caller, grant: ShareGrant) -> dict[str, Any]:
    with ctx.store.system() as system:
        partner = system.peers.partner_between(caller.org_id, grant.grantee_org_id)
    if partner is None:
        return {"mirrored": None, "why": "the grantee is on this install"}
    try:
        ctx.client(partner).post("/peer/v1/grants", grant_doc(grant))
    except PartnerUnreachable as exc:
        return {"mirrored": False, "why": f"{exc} (it catches up at its next sync)"}
    return {"mirrored": True}


def create_grant(ctx: Collab, caller: Caller, fields: dict[str, Any]) -> dict[str, Any]:
    """Give a grant (admins) and tell the grantee's install; the grant holds either way."""
    if "scope" in fields:
        try:
            fields = {**fields, "scope": GrantScope(fields["scope"])}
        except ValueError:
            known = ", ".join(s.value for s in GrantScope)
            raise InvalidInput("scope", f"{fields['scope']!r}: use one of {known}") from None
    with ctx.store.session(caller) as session:
        grant = session.grants.grant(
            ShareGrant(grantor_org_id=caller.org_id, created_by=caller.user_id, **fields)
        )
    return {"grant": grant, **_push(ctx, caller, grant)}


def revoke_grant(ctx: Collab, caller: Caller, grant_id: str) -> dict[str, Any]:
    """Revoke a grant we gave; it stops working here at once and at the partner's on push."""
    with ctx.store.session(caller) as session:
        grant = session.grants.revoke(grant_id)
    return {"grant": grant, **_push(ctx, caller, grant)}


def _moment(value: Any) -> datetime | None:
    return None if value in (None, "") else datetime.fromisoformat(str(value))


def receive_grant(session: Session, doc: dict[str, Any]) -> ShareGrant:
    """Keep (or update) the mirror of a grant the calling partner gave one of our orgs."""
    try:
        grant = ShareGrant(
            id=str(doc["id"]),
            grantor_org_id=str(doc["grantor_org_id"]),
            grantee_org_id=str(doc["grantee_org_id"]),
            scope=GrantScope(doc["scope"]),
            part_number=doc.get("part_number"),
            expires_at=_moment(doc.get("expires_at")),
            revoked_at=_moment(doc.get("revoked_at")),
            note=str(doc.get("note", "")),
            created_by=None,
        )
    except (KeyError, ValueError) as exc:
        raise InvalidInput("grant", f"not a grant document: {exc}") from None
    return session.grants.keep_mirror(grant)


def grants_for_partner(session: Session) -> list[dict[str, Any]]:
    """Every grant our organisations gave the calling partner (for its sync)."""
    return [grant_doc(g) for g in session.grants.given_to_caller_here()]
