"""Who this edge box is to its site: its id, its device key and the site's pinned key.

`dure edge enrol` writes ``home/edge.json`` (the enrolment) and ``home/keys/device.ed25519.pem``
(the device's private key, 0600). The site's public key is pinned at enrolment: model
packages are verified against it and nothing else.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization

from dure.collab.signing import KeyRing
from dure.edge.fsio import write_atomic
from dure.errors import InvalidInput

DEVICE_KEY = "device"
ENROLMENT_FILE = "edge.json"


@dataclass(frozen=True)
class EdgeIdentity:
    """The enrolment of this box at one site."""

    edge_id: str
    org_id: str
    name: str
    site_url: str
    token_file: str
    site_public_pem: str
    site_fingerprint: str
    station_id: str | None = None
    part_id: str | None = None


def device_key(home: Path) -> tuple[bytes, str]:
    """The device's private key (PEM) and its public key, made on first use."""
    ring = KeyRing(Path(home) / "keys")
    if not ring.has(DEVICE_KEY):
        ring.create(DEVICE_KEY)
    private = ring.private_pem(DEVICE_KEY)
    key = serialization.load_pem_private_key(private, password=None)
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private, public.decode()


def save_identity(home: Path, identity: EdgeIdentity) -> None:
    """Write the enrolment durably."""
    Path(home).mkdir(parents=True, exist_ok=True)
    write_atomic(Path(home) / ENROLMENT_FILE, json.dumps(asdict(identity), indent=2).encode())


def load_identity(home: Path) -> EdgeIdentity:
    """The enrolment in ``home``; InvalidInput when the box was never enrolled."""
    path = Path(home) / ENROLMENT_FILE
    if not path.exists():
        raise InvalidInput("home", f"{home} holds no enrolment: run `dure edge enrol` first")
    try:
        return EdgeIdentity(**json.loads(path.read_text(encoding="utf-8")))
    except (ValueError, TypeError) as exc:
        raise InvalidInput("home", f"{path} is unreadable ({exc})") from None


def read_token(token_file: str | Path) -> str:
    """The API token in ``token_file`` (one line)."""
    path = Path(token_file)
    try:
        token = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise InvalidInput("token_file", f"{path} cannot be read ({exc.strerror})") from None
    if not token:
        raise InvalidInput("token_file", f"{path} is empty")
    return token
