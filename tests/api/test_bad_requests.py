"""Requests that once answered 500 now get a 4xx problem+json that names the field, and a
clash with another tenant's data does not show the database's words."""

from __future__ import annotations

import pytest

from tests.factories import World


@pytest.mark.parametrize(
    "path",
    [
        "/api/inspections?offset=9223372036854775808",
        "/api/lines?offset=-1",
        "/api/jobs?limit=100000",
    ],
)
def test_out_of_range_paging_is_refused_in_words(client, world: World, path: str) -> None:  # type: ignore[no-untyped-def]
    response = client.get(path, headers=world.a.auth("viewer"))
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["field"].endswith(("offset", "limit"))


def test_a_nul_in_the_path_is_not_found_not_a_crash(client) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/%00")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


def test_names_with_control_characters_are_refused(client, world: World) -> None:  # type: ignore[no-untyped-def]
    response = client.post(
        "/api/sites", json={"name": "plant\x00two"}, headers=world.a.auth("admin")
    )
    assert response.status_code == 422 and response.json()["field"] == "name"


def test_a_clash_names_the_field_not_the_database(client, world: World) -> None:  # type: ignore[no-untyped-def]
    taken = "admin@sup-b.test"  # a user of another organisation
    response = client.post(
        "/api/users",
        json={
            "email": taken,
            "display_name": "Copy",
            "role": "viewer",
            "password": "press-line-seven",
        },
        headers=world.a.auth("admin"),
    )
    assert response.status_code == 409, response.text
    detail = response.json()["detail"]
    assert "email" in detail and "UNIQUE" not in detail and "users." not in detail


def test_a_threshold_that_would_break_the_dashboard_is_refused(client, world: World) -> None:  # type: ignore[no-untyped-def]
    response = client.post(
        f"/api/inspection-models/{world.a.ids['model_version']}/threshold",
        json={"value": 5e-324},
        headers=world.a.auth("engineer"),
    )
    assert response.status_code == 422 and response.json()["field"] == "value"


def test_an_internal_error_is_problem_json_without_internals(
    client, world: World, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    from dure.api.routes import health

    def broken(*_: object) -> None:
        raise RuntimeError("secret internals /etc/dure.sqlite")

    monkeypatch.setattr(health, "log_in", broken)
    from fastapi.testclient import TestClient

    with TestClient(client.app, raise_server_exceptions=False) as quiet:
        response = quiet.post("/api/auth/login", json={"email": "a@b.c", "password": "x" * 12})
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert "secret" not in response.text and "sqlite" not in response.text


def test_a_wrong_method_says_which_are_allowed(client, world: World) -> None:  # type: ignore[no-untyped-def]
    response = client.put("/api/inspections", headers=world.a.auth("viewer"))
    assert response.status_code == 405
    assert {m.strip() for m in response.headers["allow"].split(",")} == {"GET", "HEAD", "POST"}
    assert response.headers["content-type"] == "application/problem+json"


def test_an_unreadable_image_is_named_without_python_internals(client, world: World) -> None:  # type: ignore[no-untyped-def]
    response = client.post(
        f"/api/parts/{world.a.ids['part']}/images",
        files=[("images", ("scan-7.png", b"GIF89a but not really", "image/png"))],
        headers=world.a.auth("engineer"),
    )
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert "scan-7.png" in detail and "object at 0x" not in detail and "BytesIO" not in detail


def test_a_lot_quantity_past_the_stores_integer_is_refused_not_a_crash(
    client, world: World
) -> None:  # type: ignore[no-untyped-def]
    # schemathesis (issue 15 (8)): 2**63 reached SQLite and raised OverflowError, a 500
    body = {"part_id": world.a.ids["part"], "code": "L-big", "quantity": 2**63}
    response = client.post("/api/lots", json=body, headers=world.a.auth("engineer"))
    assert response.status_code == 422, response.text
    assert response.json()["field"] == "quantity"
    body["quantity"] = 2**31 - 1
    assert client.post("/api/lots", json=body, headers=world.a.auth("engineer")).status_code == 201


def test_yes_or_no_fields_take_true_or_false_only(client, world: World) -> None:  # type: ignore[no-untyped-def]
    user = world.a.ids["user_viewer"]
    response = client.patch(
        f"/api/users/{user}", json={"disabled": 0}, headers=world.a.auth("admin")
    )
    assert response.status_code == 422 and response.json()["field"] == "disabled"
