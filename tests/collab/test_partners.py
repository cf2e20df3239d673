"""Linking two installs and checking every later peer request, without HTTP in between.

Two stores stand for two companies' installs. The supplier's side of a link is built the
way ``accept_invitation`` builds it (signed with the supplier's key) and handed to the
OEM's ``receive_link``; later requests go through ``authenticate_peer``.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlalchemy import update

from dure.collab.outbound import OutboundPolicy
from dure.collab.packages import new_signing_key
from dure.collab.signing import KeyRing, PeerRefused, SignedRequest, fingerprint, sign_request
from dure.domain.ids import utcnow
from dure.domain.organisations import Organisation
from dure.domain.users import Caller
from dure.errors import InvalidInput
from dure.services.collaboration.partners import (
    Collab,
    authenticate_peer,
    create_invitation,
    partner_list,
    read_invitation,
    receive_link,
)
from dure.services.platform.accounts import create_org, create_user, system_caller
from dure.settings import Settings
from dure.store import tables as t
from dure.store.session import Store


@dataclass
class Install:
    """One company's install: its store, keys and organisation."""

    ctx: Collab
    org: Organisation

    @property
    def admin(self) -> Caller:
        return system_caller(self.org)


def _install(settings: Settings, name: str, kind: str, slug: str) -> Install:
    store = Store.open(settings)
    with store.system() as s:
        org = create_org(s, name, kind, slug)
    with store.session(system_caller(org)) as s:
        create_user(s, f"admin@{slug}.example", "Admin", "admin")
    ctx = Collab(
        store,
        KeyRing(settings.key_dir),
        f"http://{slug}.example",
        settings.work_dir,
        outbound=OutboundPolicy(allow_private=True),  # the test's installs are local
    )
    return Install(ctx, org)


@pytest.fixture
def pair(install_settings: Callable[..., Settings]) -> Iterator[tuple[Install, Install]]:
    """An OEM's install and a supplier's, each with its own store on this pass's backend."""
    oem = _install(install_settings("hanbit"), "Hanbit", "oem", "hanbit")
    sup = _install(install_settings("daesung"), "Daesung", "supplier", "daesung")
    yield oem, sup
    oem.ctx.store.engine.dispose()
    sup.ctx.store.engine.dispose()


def _signed(
    sender: Install, receiver_id: str, method: str, path: str, body: bytes, key: bytes | None = None
) -> SignedRequest:
    pem = key or sender.ctx.keys.private_pem(sender.org.id)
    headers = sign_request(pem, method, path, sender.org.id, receiver_id, body)
    return SignedRequest.from_headers(method, path, headers, body)


def _link_request(sup: Install, invitation: dict, token: str = "sup-token") -> SignedRequest:
    doc = read_invitation(invitation["invitation"])
    public = sup.ctx.own_key(sup.org.id)
    body = json.dumps(
        {
            "code": doc["code"],
            "org": {"id": sup.org.id, "name": "Daesung", "kind": "supplier", "slug": "daesung"},
            "url": sup.ctx.public_url,
            "public_key": public,
            "token": token,
            "token_days": 30,
        }
    ).encode()
    return _signed(sup, doc["org_id"], "POST", "/peer/v1/link", body)


def _refusals(install: Install) -> list[str]:
    with install.ctx.store.session(install.admin) as s:
        events = s.audit_events.list_all(action="refuse")
    return [e.detail["reason"] for e in reversed(events)]


def test_link_keeps_both_keys_and_the_code_works_once(pair: tuple[Install, Install]) -> None:
    oem, sup = pair
    invitation = create_invitation(oem.ctx, oem.admin)
    answer = receive_link(oem.ctx, _link_request(sup, invitation))
    assert answer["public_key"] == oem.ctx.own_key(oem.org.id)
    with oem.ctx.store.session(oem.admin) as s:
        partners = partner_list(s)
    assert [p["partner_org_id"] for p in partners] == [sup.org.id]
    assert partners[0]["fingerprint"] == fingerprint(sup.ctx.own_key(sup.org.id))
    assert partners[0]["fingerprint"] != invitation["fingerprint"]  # the OEM's own is another
    assert "outbound_token" not in partners[0] and "inbound_token_hash" not in partners[0]
    with pytest.raises(PeerRefused, match="already used"):
        receive_link(oem.ctx, _link_request(sup, invitation))


def test_expired_or_unknown_invitation_is_refused(pair: tuple[Install, Install]) -> None:
    oem, sup = pair
    invitation = create_invitation(oem.ctx, oem.admin, valid_hours=1)
    with oem.ctx.store.engine.begin() as conn:
        conn.execute(update(t.partner_invitations).values(expires_at=utcnow() - timedelta(hours=1)))
    with pytest.raises(PeerRefused, match="expired"):
        receive_link(oem.ctx, _link_request(sup, invitation))
    forged = read_invitation(invitation["invitation"])
    forged["code"] = "made-up"
    text = base64.urlsafe_b64encode(json.dumps(forged).encode()).decode()
    with pytest.raises(PeerRefused, match="not known here"):
        receive_link(oem.ctx, _link_request(sup, {"invitation": text}))


def test_bad_invitation_text_names_the_field() -> None:
    with pytest.raises(InvalidInput, match="invitation"):
        read_invitation("hello, this is not an invitation")


def test_link_signed_by_another_key_is_refused(pair: tuple[Install, Install]) -> None:
    oem, sup = pair
    invitation = create_invitation(oem.ctx, oem.admin)
    honest = _link_request(sup, invitation)
    stranger, _ = new_signing_key()
    forged = _signed(sup, oem.org.id, "POST", "/peer/v1/link", honest.body, key=stranger)
    with pytest.raises(PeerRefused, match="signature"):
        receive_link(oem.ctx, forged)


@pytest.fixture
def linked(pair: tuple[Install, Install]) -> tuple[Install, Install, str]:
    oem, sup = pair
    invitation = create_invitation(oem.ctx, oem.admin)
    answer = receive_link(oem.ctx, _link_request(sup, invitation, token="oem-presents-this"))
    return oem, sup, answer["token"]  # what the supplier presents to the OEM


def test_a_signed_request_with_its_token_is_the_partner(
    linked: tuple[Install, Install, str],
) -> None:
    oem, sup, token = linked
    caller = authenticate_peer(
        oem.ctx.store, _signed(sup, oem.org.id, "GET", "/peer/v1/grants", b""), token
    )
    assert caller.org_id == sup.org.id and caller.user_id is None


@pytest.mark.parametrize(
    ("attack", "reason"),
    [
        ("replay", "replayed request"),
        ("bad_token", "token is not valid"),
        ("expired_token", "token expired"),
        ("wrong_key", "signature"),
        ("old", r"signed 36\d\d s ago"),
        ("body_changed", "signature"),
        ("stranger", "not a partner"),
    ],
)
def test_each_bad_peer_request_is_refused_and_audited(
    linked: tuple[Install, Install, str], attack: str, reason: str
) -> None:
    oem, sup, token = linked
    request = _signed(sup, oem.org.id, "POST", "/peer/v1/kpi-reports", b'{"a": 1}')
    if attack == "replay":
        authenticate_peer(oem.ctx.store, request, token)
    elif attack == "bad_token":
        token = "guessed"
    elif attack == "expired_token":
        with oem.ctx.store.engine.begin() as conn:
            conn.execute(update(t.partners).values(inbound_expires_at=utcnow() - timedelta(1)))
    elif attack == "wrong_key":
        stranger, _ = new_signing_key()
        request = _signed(sup, oem.org.id, "POST", request.path, request.body, key=stranger)
    elif attack == "old":
        request = SignedRequest(**{**request.__dict__, "at": str(int(request.at) - 3600)})
    elif attack == "body_changed":
        request = SignedRequest(**{**request.__dict__, "body": b'{"a": 2}'})
    elif attack == "stranger":
        request = SignedRequest(**{**request.__dict__, "sender": "someone-else"})
    with pytest.raises(PeerRefused, match=reason):
        authenticate_peer(oem.ctx.store, request, token)
    assert any(re.search(reason, r) for r in _refusals(oem))


def test_unsigned_request_names_the_missing_header() -> None:
    with pytest.raises(PeerRefused, match="X-Dure-Signature"):
        SignedRequest.from_headers(
            "GET",
            "/peer/v1/grants",
            {"X-Dure-From": "a", "X-Dure-To": "b", "X-Dure-Time": "1", "X-Dure-Nonce": "n"},
            b"",
        )
