"""Outgoing requests go only where the operator allows: an invitation, a link request or
an alert target that points at this host or a private network is refused in words, and a
partner's refusal is repeated only when it is a Dure install's problem+json."""

from __future__ import annotations

import ipaddress

import httpx
import pytest

from dure.collab.outbound import OutboundPolicy
from dure.collab.peer_client import _reason
from dure.errors import InvalidInput
from tests.factories import World


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8899/",
        "http://localhost/",
        "http://[::1]:80/",
        "http://10.1.2.3/",
        "http://192.168.0.10/hook",
        "http://169.254.169.254/latest/meta-data",
        "mqtt://0.0.0.0:1883/alerts",
    ],
)
def test_loopback_link_local_and_private_addresses_are_refused(url: str) -> None:
    with pytest.raises(InvalidInput, match="private network|does not resolve") as caught:
        OutboundPolicy().check(url, "address")
    assert caught.value.field == "address"


def test_the_operator_can_allow_private_addresses_or_named_networks() -> None:
    OutboundPolicy(allow_private=True).check("http://127.0.0.1:8899/", "address")
    policy = OutboundPolicy.from_settings(False, ["10.1.0.0/16"])
    policy.check("http://10.1.2.3/", "address")
    with pytest.raises(InvalidInput):
        policy.check("http://10.2.0.1/", "address")
    assert policy.allows(ipaddress.ip_address("8.8.8.8"))


def test_an_alert_webhook_on_loopback_is_refused_over_http(client, world: World) -> None:  # type: ignore[no-untyped-def]
    response = client.post(
        "/api/alert-targets",
        json={"kind": "webhook", "address": "http://127.0.0.1:8899/x"},
        headers=world.a.auth("admin"),
    )
    assert response.status_code == 422 and response.json()["field"] == "address"


def test_an_invitation_to_this_host_is_refused_before_any_request(client, world: World) -> None:  # type: ignore[no-untyped-def]
    import base64
    import json

    from dure.collab.signing import KeyRing

    public = KeyRing(client.app.state.install.settings.key_dir).create("x")
    doc = {
        "org_id": "someone",
        "name": "Someone",
        "kind": "oem",
        "slug": "someone",
        "url": "http://127.0.0.1:8899",
        "public_key": public,
        "code": "c",
    }
    text = base64.urlsafe_b64encode(json.dumps(doc).encode()).decode()
    response = client.post(
        "/api/partners", json={"invitation": text}, headers=world.a.auth("admin")
    )
    assert response.status_code == 422, response.text
    assert response.json()["field"] == "invitation.url"


def test_a_refusal_is_repeated_only_from_a_dure_install() -> None:
    page = httpx.Response(500, text="<html>router admin page: secret</html>")
    assert "secret" not in _reason(page)
    problem = httpx.Response(
        401,
        json={"detail": "replayed request"},
        headers={"content-type": "application/problem+json"},
    )
    assert _reason(problem) == "replayed request"
