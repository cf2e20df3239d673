"""Health, authentication, roles, pagination and problem+json answers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from sqlalchemy import update

from dure.domain.users import Caller, Role
from dure.store.session import Store
from dure.store.tables import api_tokens
from tests.factories import World


def test_health_needs_no_token(client) -> None:  # type: ignore[no-untyped-def]
    body = client.get("/api/health").json()
    assert body["status"] == "ok" and body["database"] in ("sqlite", "postgresql")


def test_openapi_document_is_served(client) -> None:  # type: ignore[no-untyped-def]
    spec = client.get("/openapi.json").json()
    assert spec["info"]["title"] == "Dure" and "/api/inspections" in spec["paths"]


def test_missing_and_unknown_tokens_get_401_problem_json(client) -> None:  # type: ignore[no-untyped-def]
    for headers in ({}, {"Authorization": "Bearer dure_not-a-real-token"}):
        resp = client.get("/api/parts", headers=headers)
        assert resp.status_code == 401
        assert resp.headers["content-type"].startswith("application/problem+json")
        assert resp.json()["title"] == "Not authenticated"


def test_tokens_are_stored_hashed(store: Store, world: World) -> None:
    from sqlalchemy import select

    from dure.store.tables import api_tokens

    with store.engine.connect() as conn:
        stored = {r.token_hash for r in conn.execute(select(api_tokens.c.token_hash))}
    assert not stored & set(world.a.tokens.values())


def test_expired_and_revoked_tokens_are_refused(client, store: Store, world: World) -> None:  # type: ignore[no-untyped-def]
    caller = Caller(org_id=world.a.org.id, user_id=world.a.ids["user_viewer"], role=Role.VIEWER)
    with store.session(caller) as s:
        old, expired = s.tokens.issue("old", expires_at=datetime.now(UTC) + timedelta(hours=1))
    with store.engine.begin() as conn:  # the hour has passed
        conn.execute(
            update(api_tokens)
            .where(api_tokens.c.id == old.id)
            .values(expires_at=datetime.now(UTC) - timedelta(minutes=1))
        )
    resp = client.get("/api/parts", headers={"Authorization": f"Bearer {expired}"})
    assert resp.status_code == 401 and "expired" in resp.json()["detail"]
    mine = client.get("/api/tokens", headers=world.a.auth("viewer")).json()["items"]
    assert {t["name"] for t in mine} == {"test", "old"}  # a viewer sees only their own tokens
    token_id = world.a.ids["token_viewer"]
    assert (
        client.delete(f"/api/tokens/{token_id}", headers=world.a.auth("viewer")).status_code == 200
    )
    resp = client.get("/api/parts", headers=world.a.auth("viewer"))
    assert resp.status_code == 401 and "revoked" in resp.json()["detail"]


def test_roles_are_enforced(client, world: World) -> None:  # type: ignore[no-untyped-def]
    body = {"email": "new@sup-a.test", "display_name": "New", "role": "viewer"}
    resp = client.post("/api/users", json=body, headers=world.a.auth("engineer"))
    assert resp.status_code == 403 and "admin" in resp.json()["detail"]
    assert client.post("/api/users", json=body, headers=world.a.auth("admin")).status_code == 201
    assert client.get("/api/audit-events", headers=world.a.auth("viewer")).status_code == 403
    resp = client.post(
        "/api/orgs",
        json={"name": "X", "kind": "oem", "slug": "xx"},
        headers=world.oem.auth("admin"),
    )
    assert resp.status_code == 403 and "operator" in resp.json()["detail"]


def test_every_write_is_audited(client, world: World) -> None:  # type: ignore[no-untyped-def]
    made = client.post(
        "/api/parts", json={"number": "NEW-1", "name": "Bracket"}, headers=world.a.auth("engineer")
    ).json()
    events = client.get(
        "/api/audit-events", params={"resource_id": made["id"]}, headers=world.a.auth("admin")
    ).json()["items"]
    assert [(e["action"], e["resource"], e["actor_user_id"]) for e in events] == [
        ("create", "part", world.a.ids["user_engineer"])
    ]


def test_pagination(client, world: World) -> None:  # type: ignore[no-untyped-def]
    for k in range(5):
        client.post("/api/parts", json={"number": f"PG-{k}", "name": "p"}, headers=world.a.auth())
    first = client.get("/api/parts", params={"limit": 4}, headers=world.a.auth()).json()
    second = client.get(
        "/api/parts", params={"limit": 4, "offset": 4}, headers=world.a.auth()
    ).json()
    assert len(first["items"]) == 4 and first["next_offset"] == 4
    assert len(second["items"]) == 2 and second["next_offset"] is None
    assert not {p["id"] for p in first["items"]} & {p["id"] for p in second["items"]}
    resp = client.get("/api/parts", params={"limit": 0}, headers=world.a.auth())
    assert resp.status_code == 422 and resp.json()["field"] == "query.limit"


def test_unknown_body_fields_and_bad_types_are_named(client, world: World) -> None:  # type: ignore[no-untyped-def]
    resp = client.post(
        "/api/parts", json={"number": "X", "name": "y", "colour": "red"}, headers=world.a.auth()
    )
    assert resp.status_code == 422 and resp.json()["field"] == "colour"
    resp = client.post(
        "/api/lots",
        json={"part_id": world.a.ids["part"], "code": "L", "quantity": "many"},
        headers=world.a.auth(),
    )
    assert resp.status_code == 422 and resp.json()["field"] == "quantity"


def test_duplicate_keys_are_a_conflict(client, world: World) -> None:  # type: ignore[no-untyped-def]
    body = {"number": "DUP-1", "name": "x"}
    assert client.post("/api/parts", json=body, headers=world.a.auth()).status_code == 201
    resp = client.post("/api/parts", json=body, headers=world.a.auth())
    assert resp.status_code == 409 and resp.json()["title"] == "Conflict"


def test_review_of_an_inspection(client, world: World) -> None:  # type: ignore[no-untyped-def]
    url = f"/api/inspections/{world.a.ids['inspection']}/review"
    resp = client.post(
        url,
        json={"decision": "relabel", "defect_type": "scratch"},
        headers=world.a.auth("operator"),
    )
    assert resp.status_code == 200 and resp.json()["defect_type"] == "scratch"
    resp = client.post(
        url, json={"decision": "relabel", "defect_type": "wobble"}, headers=world.a.auth("operator")
    )
    assert resp.status_code == 422 and "taxonomy" in resp.json()["detail"]


def test_sensor_readings_round_trip(client, world: World) -> None:  # type: ignore[no-untyped-def]
    url = f"/api/channels/{world.a.ids['channel']}/readings"
    body = {
        "readings": [
            {"time": "2026-05-01T00:00:00Z", "value": 1.5},
            {"time": "2026-05-01T00:00:01Z", "value": 1.7},
        ]
    }
    assert client.post(url, json=body, headers=world.a.auth("operator")).json()["stored_new"] == 2
    assert client.post(url, json=body, headers=world.a.auth("operator")).json()["stored_new"] == 0
    got = client.get(
        url, params={"start": "2026-05-01T00:00:00Z"}, headers=world.a.auth("viewer")
    ).json()
    assert [r["value"] for r in got["readings"]] == [1.5, 1.7]


def test_audit_log_can_be_searched_by_time(client, world: World) -> None:  # type: ignore[no-untyped-def]
    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    admin = world.a.auth("admin")
    everything = client.get("/api/audit-events", params={"limit": 1000}, headers=admin).json()
    assert everything["items"]
    none = client.get("/api/audit-events", params={"since": later}, headers=admin).json()
    assert none["items"] == []
    seoul = (datetime.now(UTC) - timedelta(hours=1)).astimezone(timezone(timedelta(hours=9)))
    recent = client.get(
        "/api/audit-events", params={"since": seoul.isoformat(), "limit": 1000}, headers=admin
    ).json()
    assert len(recent["items"]) == len(everything["items"])


def test_log_in_with_password(client, store: Store, world: World) -> None:  # type: ignore[no-untyped-def]
    from dure.services.platform.accounts import create_user, system_caller

    with store.session(system_caller(world.a.org)) as s:
        create_user(s, "lee@sup-a.test", "Lee", "operator", "correct horse")
    bad = client.post("/api/auth/login", json={"email": "lee@sup-a.test", "password": "wrong"})
    unknown = client.post("/api/auth/login", json={"email": "nobody@x.test", "password": "wrong"})
    assert bad.status_code == unknown.status_code == 401
    assert bad.json()["detail"] == unknown.json()["detail"] == "wrong e-mail or password"
    creds = {"email": "LEE@sup-a.test", "password": "correct horse"}
    ok = client.post("/api/auth/login", json=creds)
    assert ok.status_code == 201 and ok.json()["expires_at"]
    me = client.get("/api/me", headers={"Authorization": f"Bearer {ok.json()['token']}"}).json()
    assert me["role"] == "operator" and me["organisation"]["id"] == world.a.org.id
