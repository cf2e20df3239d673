"""Accounts an attacker cannot walk through: guessing is slowed per account and per address
(and audited), an unknown e-mail costs the same time as a wrong password, weak passwords
are refused, tokens expire by default and cannot outlive the token that made them, and an
organisation cannot lose its last admin."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest

from dure.errors import InvalidInput
from dure.services.platform import passwords
from dure.services.platform.accounts import create_user, system_caller
from dure.services.platform.passwords import check_password
from dure.store.session import Store
from tests.factories import World

GOOD = "stamping-line-7!"


def _person(store: Store, world: World, email: str = "kim@sup-a.test") -> None:
    with store.session(system_caller(world.a.org)) as s:
        create_user(s, email, "Kim", "engineer", GOOD)


def _login(client, email: str, password: str):  # type: ignore[no-untyped-def]
    return client.post("/api/auth/login", json={"email": email, "password": password})


def test_guessing_is_stopped_after_five_failures_even_with_the_right_password(
    client, store: Store, world: World
) -> None:  # type: ignore[no-untyped-def]
    _person(store, world)
    for _ in range(5):
        assert _login(client, "kim@sup-a.test", "wrong-guess-123").status_code == 401
    locked = _login(client, "kim@sup-a.test", GOOD)
    assert locked.status_code == 429 and "try again" in locked.json()["detail"]
    with store.session(system_caller(world.a.org)) as s:
        actions = [e.action for e in s.audit_events.list_all(resource="user")]
    assert actions.count("log_in_failed") == 5 and "log_in_refused" in actions


def test_an_address_guessing_many_accounts_is_stopped(client, store: Store, world: World) -> None:  # type: ignore[no-untyped-def]
    _person(store, world)
    for k in range(20):
        _login(client, f"nobody{k}@x.test", "wrong-guess-123")
    assert _login(client, "kim@sup-a.test", GOOD).status_code == 429


def test_a_good_log_in_clears_the_account_s_failures(client, store: Store, world: World) -> None:  # type: ignore[no-untyped-def]
    _person(store, world)
    for _ in range(4):
        _login(client, "kim@sup-a.test", "wrong-guess-123")
    assert _login(client, "kim@sup-a.test", GOOD).status_code == 201
    for _ in range(4):
        _login(client, "kim@sup-a.test", "wrong-guess-123")
    assert _login(client, "kim@sup-a.test", GOOD).status_code == 201


def test_an_unknown_e_mail_costs_the_same_time_as_a_wrong_password(
    client, store: Store, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    """Both pay for one full password hash (scrypt at the stored cost), so the answer's
    time does not tell whether the e-mail exists. Counted, not timed: a timing assertion
    fails on a busy machine (the known account's audit write alone can take 0.1 s)."""
    _person(store, world)
    _login(client, "warm-up@sup-a.test", "wrong-guess-123")  # the stand-in hash is made once
    real, costs = hashlib.scrypt, []

    def counted(password: bytes, **params: int) -> bytes:
        costs.append((params["n"], params["r"], params["p"]))
        return real(password, **params)

    monkeypatch.setattr(passwords.hashlib, "scrypt", counted)

    def hashes_paid(email: str) -> list[tuple[int, int, int]]:
        costs.clear()
        assert _login(client, email, "wrong-guess-123").status_code == 401
        return list(costs)

    known, unknown = hashes_paid("kim@sup-a.test"), hashes_paid("nobody@sup-a.test")
    assert known == unknown and len(known) == 1, (known, unknown)
    assert known[0][0] >= 2**14  # the real cost, not a cheap stand-in


@pytest.mark.parametrize(
    ("password", "why"),
    [
        ("12345678", "at least 10"),
        ("1234567890", "attackers try"),
        ("aaaaaaaaaaaa", "attackers try"),
        ("qwertyuiop", "attackers try"),
        ("kimsung-2026", "e-mail"),
    ],
)
def test_weak_passwords_are_refused_in_words(password: str, why: str) -> None:
    with pytest.raises(InvalidInput, match=why) as caught:
        check_password(password, "kimsung@sup-a.test")
    assert caught.value.field == "password"


def test_tokens_expire_and_cannot_outlive_the_token_that_made_them(
    client, store: Store, world: World
) -> None:  # type: ignore[no-untyped-def]
    _person(store, world)
    login = _login(client, "kim@sup-a.test", GOOD).json()
    auth = {"Authorization": f"Bearer {login['token']}"}
    later = (datetime.now(UTC) + timedelta(days=400)).isoformat()
    forever = client.post("/api/tokens", json={"name": "cam", "expires_at": later}, headers=auth)
    assert forever.status_code == 422 and forever.json()["field"] == "expires_at"
    plain = client.post("/api/tokens", json={"name": "camera"}, headers=auth).json()
    assert plain["expires_at"] <= login["expires_at"]  # no longer than the log-in itself
    soon = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
    ok = client.post("/api/tokens", json={"name": "camera", "expires_at": soon}, headers=auth)
    assert ok.status_code == 201
    past = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    admin = world.a.auth("admin")
    refused = client.post("/api/tokens", json={"name": "x", "expires_at": past}, headers=admin)
    assert refused.status_code == 422 and "past" in refused.json()["detail"]
    default = client.post("/api/tokens", json={"name": "script"}, headers=admin).json()
    lasts = datetime.fromisoformat(default["expires_at"]) - datetime.now(UTC)
    assert timedelta(days=89) < lasts <= timedelta(days=90)


def test_the_last_admin_can_be_neither_demoted_nor_disabled(client, world: World) -> None:  # type: ignore[no-untyped-def]
    admin = world.a.ids["user_admin"]
    headers = world.a.auth("admin")
    demote = client.patch(f"/api/users/{admin}", json={"role": "viewer"}, headers=headers)
    assert demote.status_code == 409 and "last admin" in demote.json()["detail"]
    disable = client.patch(f"/api/users/{admin}", json={"disabled": True}, headers=headers)
    assert disable.status_code == 409
    other = world.a.ids["user_engineer"]
    assert (
        client.patch(f"/api/users/{other}", json={"role": "admin"}, headers=headers).status_code
        == 200
    )
    assert (
        client.patch(f"/api/users/{admin}", json={"role": "viewer"}, headers=headers).status_code
        == 200
    )
