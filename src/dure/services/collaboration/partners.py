"""Linking installs and checking who calls: keys, invitations, partner tokens, peer requests.

Two companies' installs link once: an admin of one issues an invitation (its organisation,
address, public key and a one-time code); an admin of the other accepts it, which sends
the code, its own public key and a token over a signed request. Afterwards each install
holds the other's public key and a token to present, and every request between them is
signed, timed, carries a one-time nonce and is refused (and audited) otherwise.
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
from datetime import timedelta
from typing import Any

from dure.collab.peer_client import PeerClient
from dure.collab.signing import PeerRefused, SignedRequest, fingerprint
from dure.domain.collab import Partner, PartnerInvitation
from dure.domain.ids import utcnow
from dure.domain.organisations import Organisation, OrgKind
from dure.domain.times import as_utc
from dure.domain.users import Caller, Role
from dure.errors import Conflict, Forbidden, InvalidInput, NotFound
from dure.services.collaboration.context import Collab, audit_refusal
from dure.store.repositories.users import hash_token
from dure.store.session import Session, Store

NONCE_KEEP = timedelta(minutes=15)
MAX_INVITATION_HOURS = 24 * 30
MAX_TOKEN_DAYS = 3650  # a partner's token


# ---- invitations and linking ------------------------------------------------------------
def create_invitation(
    ctx: Collab, caller: Caller, valid_hours: int = 72, token_days: int = 365
) -> dict[str, Any]:
    """A one-time invitation text for a partner's admin; the code is shown only here."""
    public = ctx.own_key(caller.org_id)
    with ctx.store.session(caller) as session:
        return _invite(ctx, session, public, valid_hours, token_days)


def _invite(
    ctx: Collab, session: Session, public: str, valid_hours: int, token_days: int
) -> dict[str, Any]:
    if not session.caller.can(Role.ADMIN):
        raise Forbidden("only an admin may invite a partner organisation")
    if not 1 <= valid_hours <= MAX_INVITATION_HOURS:
        raise InvalidInput("valid_hours", "between 1 hour and 30 days")
    if not 1 <= token_days <= MAX_TOKEN_DAYS:
        raise InvalidInput("token_days", f"between 1 and {MAX_TOKEN_DAYS} days")
    org = session.organisations.get(session.caller.org_id)
    code = secrets.token_urlsafe(24)
    invitation = PartnerInvitation(
        org_id=org.id,
        code_hash=hash_token(code),
        expires_at=utcnow() + timedelta(hours=valid_hours),
        token_days=token_days,
        created_by=session.caller.user_id,
    )
    session.invitations.add(invitation)
    doc = {
        "org_id": org.id,
        "name": org.name,
        "kind": str(org.kind),
        "slug": org.slug,
        "url": ctx.public_url,
        "public_key": public,
        "fingerprint": fingerprint(public),
        "code": code,
        "expires_at": invitation.expires_at.isoformat(),
    }
    text = base64.urlsafe_b64encode(json.dumps(doc).encode()).decode()
    return {"invitation": text, "fingerprint": doc["fingerprint"], "expires_at": doc["expires_at"]}


def read_invitation(text: str) -> dict[str, Any]:
    """Decode an invitation text; InvalidInput naming what is wrong with it."""
    try:
        doc = json.loads(base64.urlsafe_b64decode(text.strip().encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise InvalidInput("invitation", "not an invitation text from a Dure install") from None
    if not isinstance(doc, dict):
        raise InvalidInput("invitation", "not an invitation text from a Dure install")
    for key in ("org_id", "name", "kind", "slug", "url", "public_key", "code"):
        if not isinstance(doc.get(key), str) or not doc[key]:
            raise InvalidInput(f"invitation.{key}", "missing from the invitation")
    if doc["kind"] not in (OrgKind.OEM, OrgKind.SUPPLIER):
        raise InvalidInput("invitation.kind", f"{doc['kind']!r} cannot be a partner")
    try:
        doc["fingerprint"] = fingerprint(doc["public_key"])
    except ValueError:
        raise InvalidInput("invitation.public_key", "not a PEM public key") from None
    return doc


def _remember_partner(
    store: Store,
    own_org_id: str,
    remote: dict[str, Any],
    url: str,
    public_pem: str,
    inbound_token: str,
    inbound_days: int,
    outbound_token: str,
) -> Partner:
    """Store the partner's organisation (under its own id), the OEM–supplier link, the keys."""
    with store.system() as system:
        own = system.organisations.get(own_org_id)
        try:
            system.organisations.get(remote["id"])
        except NotFound:
            slug = remote["slug"]
            if system.organisations.slug_taken(slug):
                slug = f"{slug}-{remote['id'][:6]}"
            system.organisations.add(
                Organisation(id=remote["id"], name=remote["name"], kind=remote["kind"], slug=slug)
            )
        kinds = {str(own.kind): own.id, str(remote["kind"]): remote["id"]}
        if set(kinds) != {"oem", "supplier"}:
            raise InvalidInput(
                "invitation.kind",
                "partners are an OEM and a supplier: "
                f"{own.name} is a {own.kind} and {remote['name']} a {remote['kind']}",
            )
        try:
            system.organisations.link(kinds["oem"], kinds["supplier"])
        except Conflict:
            pass
        if system.peers.partner_between(own.id, remote["id"]) is not None:
            raise Conflict(f"{remote['name']} is already a partner of {own.name}")
        partner = Partner(
            org_id=own.id,
            partner_org_id=remote["id"],
            url=url,
            public_pem=public_pem,
            fingerprint=fingerprint(public_pem),
            inbound_token_hash=hash_token(inbound_token),
            inbound_expires_at=utcnow() + timedelta(days=inbound_days),
            outbound_token=outbound_token,
        )
        system.peers.add_partner(partner)
        system.audit.record(
            "link_partner",
            "partner",
            partner.id,
            org_id=own.id,
            detail={"partner": remote["id"], "url": url, "fingerprint": partner.fingerprint},
        )
        return partner


def accept_invitation(ctx: Collab, caller: Caller, text: str, token_days: int = 365) -> Partner:
    """Link our organisation to the one that invited us; both sides keep the other's key."""
    if not caller.can(Role.ADMIN):
        raise Forbidden("only an admin may link a partner organisation")
    doc = read_invitation(text)
    if doc["org_id"] == caller.org_id:
        raise InvalidInput("invitation", "this is your own organisation's invitation")
    ctx.outbound.check(doc["url"], "invitation.url")
    public = ctx.own_key(caller.org_id)
    with ctx.store.session(caller) as session:
        me = session.organisations.get(caller.org_id)
    token_for_them = secrets.token_urlsafe(32)
    client = PeerClient(
        doc["url"], caller.org_id, doc["org_id"], ctx.keys.private_pem(caller.org_id), None
    )
    answer = client.post(
        "/peer/v1/link",
        {
            "code": doc["code"],
            "org": {"id": me.id, "name": me.name, "kind": str(me.kind), "slug": me.slug},
            "url": ctx.public_url,
            "public_key": public,
            "token": token_for_them,
            "token_days": token_days,
        },
    )
    if answer.get("public_key") != doc["public_key"]:
        raise PeerRefused("the install that answered does not hold the invitation's key")
    remote = {"id": doc["org_id"], "name": doc["name"], "kind": doc["kind"], "slug": doc["slug"]}
    return _remember_partner(
        ctx.store,
        caller.org_id,
        remote,
        doc["url"],
        doc["public_key"],
        token_for_them,
        token_days,
        str(answer["token"]),
    )


def receive_link(ctx: Collab, request: SignedRequest) -> dict[str, Any]:
    """The inviting side of a link: check the code and the joiner's signature, store both."""
    try:
        body = json.loads(request.body)
        code, org, url = str(body["code"]), dict(body["org"]), str(body["url"])
        public, token = str(body["public_key"]), str(body["token"])
    except (ValueError, KeyError, TypeError):
        raise InvalidInput(
            "body", "a link request needs code, org, url, public_key, token"
        ) from None
    request.check_time()
    ctx.outbound.check(url, "url")
    with ctx.store.system() as system:
        invitation = system.peers.invitation_by_code_hash(hash_token(code))
    if invitation is None or invitation.org_id != request.receiver:
        raise PeerRefused("the invitation code is not known here")
    if invitation.used_at is not None:
        raise PeerRefused("the invitation was already used: ask for a new one")
    if as_utc(invitation.expires_at) <= utcnow():
        raise PeerRefused(f"the invitation expired at {invitation.expires_at:%Y-%m-%d %H:%M} UTC")
    if org.get("id") != request.sender:
        raise PeerRefused("the request names another organisation than its body")
    request.verify(public)
    token_for_them = secrets.token_urlsafe(32)
    remote = {k: str(org.get(k, "")) for k in ("id", "name", "kind", "slug")}
    partner = _remember_partner(
        ctx.store,
        invitation.org_id,
        remote,
        url,
        public,
        token_for_them,
        invitation.token_days,
        token,
    )
    with ctx.store.system() as system:
        system.peers.mark_invitation_used(invitation.id, request.sender)
    return {
        "token": token_for_them,
        "public_key": ctx.own_key(invitation.org_id),
        "partner_id": partner.id,
    }


# ---- every later request ----------------------------------------------------------------
def authenticate_peer(store: Store, request: SignedRequest, token: str | None) -> Caller:
    """The partner organisation behind a signed request; refusals are audited and raised."""
    try:
        with store.system() as system:
            partner = system.peers.partner_between(request.receiver, request.sender)
            if partner is None:
                raise PeerRefused(f"organisation {request.sender!r} is not a partner here")
            if not token or hash_token(token) != partner.inbound_token_hash:
                raise PeerRefused("the partner token is not valid: re-link the installs")
            if as_utc(partner.inbound_expires_at) <= utcnow():
                raise PeerRefused(
                    f"the partner token expired at {partner.inbound_expires_at:%Y-%m-%d %H:%M}"
                    " UTC: re-link the installs or extend the token"
                )
            request.check_time()
            request.verify(partner.public_pem)
            if not system.peers.remember_nonce(partner.id, request.nonce, NONCE_KEEP):
                raise PeerRefused(f"replayed request: nonce {request.nonce[:8]}… was already used")
            kind = system.identities.org_kind(request.sender)
    except PeerRefused as exc:
        audit_refusal(
            store,
            request.receiver,
            "peer_request",
            exc.reason,
            {
                "from": request.sender,
                "path": request.path,
                "method": request.method,
            },
        )
        raise
    return Caller(org_id=request.sender, user_id=None, role=Role.ENGINEER, org_kind=kind)


def partner_list(session: Session) -> list[dict[str, Any]]:
    """Our partners with their names and key fingerprints (never the tokens)."""
    out = []
    for partner in session.partners.list_all():
        org = session.organisations.get(partner.partner_org_id)
        out.append(
            {
                "id": partner.id,
                "partner_org_id": partner.partner_org_id,
                "name": org.name,
                "kind": str(org.kind),
                "url": partner.url,
                "fingerprint": partner.fingerprint,
                "token_expires_at": partner.inbound_expires_at,
                "last_sync_at": partner.last_sync_at,
            }
        )
    return out
