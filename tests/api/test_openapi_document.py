"""What the OpenAPI document says, and the answers it says, one finding at a time (issue 15
(8)); the whole document is checked by schemathesis in test_openapi_conformance.py."""

from __future__ import annotations

import re

import pytest
from pydantic import ValidationError

from dure.api.schemas import NOT_BLANK, SiteIn
from tests.factories import World


def test_every_error_is_declared_as_the_problem_it_is(client) -> None:  # type: ignore[no-untyped-def]
    document = client.get("/openapi.json").json()
    assert "HTTPValidationError" not in document["components"]["schemas"]
    assert "Problem" in document["components"]["schemas"]
    login = document["paths"]["/api/auth/login"]["post"]["responses"]
    assert {"400", "401", "413", "422", "429", "503"} <= set(login)
    unprocessable = login["422"]["content"]["application/problem+json"]["schema"]
    assert unprocessable == {"$ref": "#/components/schemas/Problem"}
    part = document["paths"]["/api/parts/{part_id}"]
    assert {"401", "403", "404", "409", "422"} <= set(part["get"]["responses"])
    assert "413" not in part["get"]["responses"]  # no body, no body limit
    assert "401" not in document["paths"]["/api/health"]["get"]["responses"]


def test_a_422_has_the_declared_shape(client, world: World) -> None:  # type: ignore[no-untyped-def]
    response = client.post("/api/sites", json={"name": ""}, headers=world.a.auth("admin"))
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["field"] == "name" and body["errors"][0]["field"] == "name"


def test_non_json_answers_are_declared(client) -> None:  # type: ignore[no-untyped-def]
    paths = client.get("/openapi.json").json()["paths"]
    blob = paths["/api/blobs/{sha256}"]["get"]["responses"]["200"]["content"]
    assert "image/png" in blob and "application/json" not in blob
    package = paths["/peer/v1/packages/{package_id}"]["get"]["responses"]["200"]["content"]
    assert list(package) == ["application/vnd.dure.model-package"]


def test_an_undeclared_method_is_405_naming_the_declared_ones(client, world: World) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/api/auth/login")  # POST only: not a dashboard page, not a 404
    assert response.status_code == 405 and response.headers["allow"] == "POST"
    response = client.request("OPTIONS", "/api/parts", headers=world.a.auth("viewer"))
    assert response.status_code == 405 and response.headers["allow"] == "GET, HEAD, POST"
    response = client.request("OPTIONS", "/api/imports/sensor-readings")
    assert response.headers["allow"] == "POST"  # not also GET /api/imports/{batch_id}'s


def test_a_wrong_kind_of_model_is_a_409_naming_the_field(client, world: World) -> None:  # type: ignore[no-untyped-def]
    anomaly_model = world.a.ids["model_version"]
    response = client.post(
        f"/api/inspection-models/{anomaly_model}/train", headers=world.a.auth("engineer")
    )
    assert response.status_code == 409, response.text
    assert response.json()["field"] == "model_id"


def test_too_few_readings_for_spc_is_a_409(client, world: World) -> None:  # type: ignore[no-untyped-def]
    response = client.post(
        f"/api/channels/{world.a.ids['channel']}/spc-check", headers=world.a.auth("engineer")
    )
    assert response.status_code == 409 and response.json()["field"] == "channel_id"


def test_times_are_iso_8601_not_numbers(client, world: World) -> None:  # type: ignore[no-untyped-def]
    channel = world.a.ids["channel"]
    response = client.get(
        f"/api/channels/{channel}/readings?start=0.5", headers=world.a.auth("viewer")
    )
    assert response.status_code == 422 and response.json()["field"].endswith("start")
    response = client.post(
        f"/api/channels/{channel}/readings",
        json={"readings": [{"time": "2026-01-01T00:00:00Z", "value": False}]},
        headers=world.a.auth("engineer"),
    )
    assert response.status_code == 422  # a boolean is no reading
    response = client.post(
        f"/api/channels/{channel}/readings",
        json={"readings": [{"time": "2026-01-01T00:00:00Z", "value": 3}]},
        headers=world.a.auth("engineer"),
    )
    assert response.status_code == 201, response.text  # a whole number is


def test_limits_the_code_keeps_are_in_the_schema(client) -> None:  # type: ignore[no-untyped-def]
    paths = client.get("/openapi.json").json()["paths"]
    queue = {p["name"]: p for p in paths["/api/review-queue"]["get"]["parameters"]}
    assert queue["limit"]["schema"]["maximum"] == 500
    overview = {p["name"]: p for p in paths["/api/dashboard/overview"]["get"]["parameters"]}
    assert "Asia/Seoul" in overview["tz"]["schema"]["enum"]


@pytest.mark.parametrize(
    "name",
    ["\fPanel", "Panel\f", "Pa\fnel", "Pa\x00nel", "tab\there", " Panel ", "   ", "\x85", "Panel"],
)
def test_the_schema_and_the_code_agree_on_text(name: str) -> None:
    # schemathesis found "\f..." refused by the schema yet taken (bodies stripped their ends
    # before checking): text is now checked as sent, then trimmed
    by_schema = re.search(NOT_BLANK, name) is not None
    try:
        site = SiteIn(name=name)
        by_code = True
    except ValidationError:
        by_code = False
    assert by_schema == by_code
    if by_code:
        assert site.name == name.strip()


def test_a_length_limit_counts_what_was_sent() -> None:
    # schemathesis: 100 spaces around a part number passed as the 1 character left after trimming
    with pytest.raises(ValidationError):
        SiteIn(name=" " * 200 + "x")
    assert SiteIn(name=" " * 100 + "x").name == "x"
