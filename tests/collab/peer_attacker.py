"""A partner install that turns hostile: linked properly to one organisation of the test
world's install, then sending whatever it likes, signed with its own key, over real HTTP to
the world's app (FastAPI TestClient).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from dure.collab.outbound import OutboundPolicy
from dure.collab.signing import KeyRing, SignedRequest, sign_request
from dure.domain.organisations import Organisation, OrgKind
from dure.services.collaboration.context import Collab
from dure.services.collaboration.partners import (
    create_invitation,
    read_invitation,
    receive_link,
)
from dure.services.platform.accounts import system_caller
from dure.settings import Settings
from dure.store.session import Store
from tests.factories import World


@dataclass
class Attacker:
    """The hostile install's organisation, its key and the token the victim gave it."""

    org: Organisation
    keys: KeyRing
    token: str
    victim_org_id: str
    client: TestClient

    def post(
        self,
        path: str,
        body: Any,
        *,
        to: str | None = None,
        sender: str | None = None,
        raw: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Response:
        """POST ``body`` (JSON, or ``raw`` bytes) signed with our key; ``to`` and ``sender``
        override the organisations the signature names."""
        data = raw if raw is not None else json.dumps(body).encode()
        signed = sign_request(
            self.keys.private_pem(self.org.id),
            "POST",
            path,
            sender or self.org.id,
            to or self.victim_org_id,
            data,
        )
        return self.client.post(
            path,
            content=data,
            headers={
                **signed,
                "Authorization": f"Bearer {self.token}",
                "content-type": "application/json",
                **(headers or {}),
            },
        )

    def replay(self, response: Response) -> Response:
        """Send the exact request behind ``response`` again (same headers, same body)."""
        request = response.request
        return self.client.post(
            request.url.path, content=request.content, headers=dict(request.headers)
        )


def link_attacker(
    settings: Settings,
    store: Store,
    client: TestClient,
    victim: Organisation,
    key_dir: Path,
    kind: str,
    name: str = "Mallory Works",
) -> Attacker:
    """A new install (its keys in ``key_dir``) with one organisation of ``kind`` that
    accepts an invitation of ``victim``'s admin: the victim's install keeps its key and a
    token for it, as after an honest link."""
    slug = name.lower().replace(" ", "-")
    org = Organisation(name=name, kind=OrgKind(kind), slug=slug)
    keys = KeyRing(key_dir)
    public = keys.create(org.id)
    victim_ctx = Collab(
        store,
        KeyRing(settings.key_dir),
        "http://victim.example",
        settings.work_dir,
        outbound=OutboundPolicy(allow_private=True),
    )
    invitation = create_invitation(victim_ctx, system_caller(victim))
    doc = read_invitation(invitation["invitation"])
    body = json.dumps(
        {
            "code": doc["code"],
            "org": {"id": org.id, "name": name, "kind": kind, "slug": slug},
            "url": "http://mallory.example",
            "public_key": public,
            "token": "victim-presents-this",
            "token_days": 30,
        }
    ).encode()
    headers = sign_request(
        keys.private_pem(org.id), "POST", "/peer/v1/link", org.id, victim.id, body
    )
    answer = receive_link(
        victim_ctx, SignedRequest.from_headers("POST", "/peer/v1/link", headers, body)
    )
    return Attacker(org, keys, answer["token"], victim.id, client)


@pytest.fixture
def mallory(
    settings: Settings, store: Store, client: TestClient, world: World, tmp_path: Path
) -> Attacker:
    """A supplier install linked to the world's OEM."""
    return link_attacker(settings, store, client, world.oem.org, tmp_path / "mk", "supplier")
