"""Organisation keys and signed requests between installs.

Each organisation has one Ed25519 key pair. The private key stays in the install's key
folder (a file readable by the Dure user only); the public key goes to partners when they
link. Every request one install sends another is signed over its method, path, both
organisations, a time, a one-time nonce and the body's SHA-256, so a request cannot be
altered, replayed or sent in another organisation's name.
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from dure.collab.packages import new_signing_key
from dure.errors import Unauthenticated

HEADER_FROM = "X-Dure-From"
HEADER_TO = "X-Dure-To"
HEADER_TIME = "X-Dure-Time"
HEADER_NONCE = "X-Dure-Nonce"
HEADER_SIGNATURE = "X-Dure-Signature"
MAX_SKEW_S = 300


class PeerRefused(Unauthenticated):
    """A request from another install that must not be served; ``reason`` in words."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def fingerprint(public_pem: str | bytes) -> str:
    """A short, stable name of a public key for admins to compare by phone (SHA-256 of DER)."""
    data = public_pem.encode() if isinstance(public_pem, str) else public_pem
    key = serialization.load_pem_public_key(data)
    der = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    digest = hashlib.sha256(der).hexdigest()[:32]
    return ":".join(digest[i : i + 4] for i in range(0, 32, 4))


class KeyRing:
    """Private keys of this install's organisations, one file each, mode 0600."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)

    def _path(self, org_id: str) -> Path:
        return self.folder / f"{org_id}.ed25519.pem"

    def has(self, org_id: str) -> bool:
        """True when the organisation's private key is here."""
        return self._path(org_id).exists()

    def create(self, org_id: str) -> str:
        """Make the organisation's key pair; returns the public key (PEM)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        os.chmod(self.folder, 0o700)
        private, public = new_signing_key()
        tmp = self._path(org_id).with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(private)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, self._path(org_id))
        return public.decode()

    def private_pem(self, org_id: str) -> bytes:
        """The organisation's private key; a clear error when the key file is missing."""
        path = self._path(org_id)
        if not path.exists():
            raise FileNotFoundError(
                f"no signing key for organisation {org_id} in {self.folder}: "
                "restore the key folder from backup, or create a new key and re-link partners"
            )
        return path.read_bytes()


def _canonical(
    method: str, path: str, sender: str, receiver: str, at: str, nonce: str, body: bytes
) -> bytes:
    return "\n".join(
        [method.upper(), path, sender, receiver, at, nonce, hashlib.sha256(body).hexdigest()]
    ).encode()


def sign_request(
    private_pem: bytes, method: str, path: str, sender: str, receiver: str, body: bytes
) -> dict[str, str]:
    """The signature headers for one request from ``sender`` to ``receiver``."""
    key = serialization.load_pem_private_key(private_pem, password=None)
    assert isinstance(key, Ed25519PrivateKey)
    at, nonce = str(int(time.time())), secrets.token_hex(16)
    signature = key.sign(_canonical(method, path, sender, receiver, at, nonce, body))
    return {
        HEADER_FROM: sender,
        HEADER_TO: receiver,
        HEADER_TIME: at,
        HEADER_NONCE: nonce,
        HEADER_SIGNATURE: base64.b64encode(signature).decode(),
    }


def sign_message(private_pem: bytes, message: bytes) -> str:
    """An Ed25519 signature of ``message`` (base64), e.g. a model pointer for an edge box."""
    key = serialization.load_pem_private_key(private_pem, password=None)
    assert isinstance(key, Ed25519PrivateKey)
    return base64.b64encode(key.sign(message)).decode()


def message_signed_by(public_pem: str | bytes, message: bytes, signature: object) -> bool:
    """True when ``signature`` (base64) is ``public_pem``'s Ed25519 signature of ``message``."""
    data = public_pem.encode() if isinstance(public_pem, str) else public_pem
    key = serialization.load_pem_public_key(data)
    if not isinstance(key, Ed25519PublicKey) or not isinstance(signature, str):
        return False
    try:
        key.verify(base64.b64decode(signature, validate=True), message)
    except (InvalidSignature, ValueError):
        return False
    return True


@dataclass(frozen=True)
class SignedRequest:
    """The parts of an incoming request that its signature covers."""

    method: str
    path: str
    sender: str
    receiver: str
    at: str
    nonce: str
    signature: str
    body: bytes

    @classmethod
    def from_headers(
        cls, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> SignedRequest:
        """Read the signature headers; PeerRefused naming the one that is missing."""
        lower = {k.lower(): v for k, v in headers.items()}
        values = []
        for name in (HEADER_FROM, HEADER_TO, HEADER_TIME, HEADER_NONCE, HEADER_SIGNATURE):
            value = lower.get(name.lower())
            if not value:
                raise PeerRefused(f"the request is not signed: header {name} is missing")
            values.append(value)
        return cls(method, path, *values, body=body)  # type: ignore[arg-type]

    def check_time(self, now: float | None = None, max_skew_s: int = MAX_SKEW_S) -> None:
        """Refuse a request signed too long ago (or in the future): it may be a replay."""
        try:
            at = int(self.at)
        except ValueError:
            raise PeerRefused(f"{HEADER_TIME} {self.at!r} is not a Unix time") from None
        skew = (time.time() if now is None else now) - at
        if abs(skew) > max_skew_s:
            when = f"{skew:.0f} s ago" if skew > 0 else f"{-skew:.0f} s in the future"
            raise PeerRefused(
                f"the request was signed {when}, more than {max_skew_s} s off: "
                "a replay, or a clock that is wrong"
            )

    def verify(self, public_pem: str | bytes) -> None:
        """Check the signature against the sender's public key; PeerRefused if it fails."""
        data = public_pem.encode() if isinstance(public_pem, str) else public_pem
        key = serialization.load_pem_public_key(data)
        if not isinstance(key, Ed25519PublicKey):
            raise PeerRefused("the key on file for the sender is not an Ed25519 key")
        try:
            raw = base64.b64decode(self.signature, validate=True)
            key.verify(
                raw,
                _canonical(
                    self.method,
                    self.path,
                    self.sender,
                    self.receiver,
                    self.at,
                    self.nonce,
                    self.body,
                ),
            )
        except (InvalidSignature, ValueError):
            raise PeerRefused(
                "the signature does not match: the request was changed on the way, "
                "or not signed by the organisation it names"
            ) from None
