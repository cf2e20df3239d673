"""Signed model packages: what an OEM publishes and a supplier verifies before loading.

A package is a tar file of three members:
- ``model.bin``: the model as stored (e.g. an inspection model's tar blob);
- ``card.json``: the model card (name, version, lineage, intended parts, defect taxonomy,
  metrics, data summary) plus the SHA-256 of ``model.bin``;
- ``signature.json``: the signer's organisation id, the algorithm (Ed25519) and the
  signature over the canonical bytes of ``card.json``;
- ``golden.bin`` (optional, newer packages): the golden set, images the publisher chose to
  share with the anomaly maps its install computed for them; the card carries the expected
  image scores and the member's SHA-256, so both are signed. Packages without it stay
  readable.

Signing the card signs the model through its hash. Verification refuses, each with its
own reason: no signature, a signer that is not trusted, a signature that does not match
(the card was changed), a model whose hash differs from the card's (the weights were
changed), and a revoked package.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import tarfile
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from dure.errors import InvalidInput

FORMAT = "dure-model-package/1"
GOLDEN = "golden.bin"
MAX_MEMBER_BYTES = 2 << 30


class PackageRefused(InvalidInput):
    """A package that must not be loaded; ``reason`` says why in words."""

    def __init__(self, reason: str) -> None:
        super().__init__("package", reason)


def new_signing_key() -> tuple[bytes, bytes]:
    """A new Ed25519 key pair as (private PEM, public PEM); the private one stays home."""
    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private, public


def _canonical(card: Mapping[str, Any]) -> bytes:
    return json.dumps(card, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def build_package(
    model: bytes,
    card: Mapping[str, Any],
    signer_org_id: str,
    private_pem: bytes,
    golden: bytes | None = None,
) -> bytes:
    """Sign ``card`` (with the model's hash added) and pack it with the model; ``golden``
    (the golden set's member, see ``models.vision.parity``) is signed through its hash."""
    key = serialization.load_pem_private_key(private_pem, password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise InvalidInput("private_key", "the signing key must be an Ed25519 key")
    for required in ("name", "version", "package_id"):
        if required not in card:
            raise InvalidInput(f"card.{required}", "every package card names it")
    full = {**card, "format": FORMAT, "model_sha256": hashlib.sha256(model).hexdigest()}
    if golden is not None:
        full["golden_sha256"] = hashlib.sha256(golden).hexdigest()
    body = _canonical(full)
    signature = {
        "signer": signer_org_id,
        "algorithm": "ed25519",
        "signature": base64.b64encode(key.sign(body)).decode(),
    }
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        members = [
            ("card.json", body),
            ("model.bin", model),
            ("signature.json", json.dumps(signature).encode()),
        ]
        if golden is not None:
            members.append((GOLDEN, golden))
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


@dataclass(frozen=True)
class VerifiedPackage:
    """A package whose signature, signer and content were checked."""

    card: dict[str, Any]
    model: bytes
    signer: str
    golden: bytes | None = None


def verify_package(
    data: bytes, trusted: Mapping[str, bytes], revoked: set[str] | frozenset[str] = frozenset()
) -> VerifiedPackage:
    """Check a package against the public keys of trusted organisations (org id -> PEM)."""
    members = _members(data)
    if "signature.json" not in members:
        raise PackageRefused("the package is not signed: refusing to load it")
    if "card.json" not in members or "model.bin" not in members:
        raise PackageRefused("the package lacks its card or its model")
    try:
        signature = json.loads(members["signature.json"])
        signer, algorithm = str(signature["signer"]), signature["algorithm"]
        raw = base64.b64decode(signature["signature"], validate=True)
    except (ValueError, KeyError, TypeError):
        raise PackageRefused("the package's signature record is unreadable") from None
    if algorithm != "ed25519":
        raise PackageRefused(f"signature algorithm {algorithm!r} is not accepted (ed25519 only)")
    if signer not in trusted:
        raise PackageRefused(f"signed by {signer!r}, which is not a trusted partner of yours")
    key = serialization.load_pem_public_key(trusted[signer])
    if not isinstance(key, Ed25519PublicKey):
        raise PackageRefused(f"the key on file for {signer!r} is not an Ed25519 key")
    try:
        key.verify(raw, members["card.json"])
    except InvalidSignature:
        raise PackageRefused(
            f"the signature does not match the card: changed after {signer!r} signed it, "
            "or signed by someone else"
        ) from None
    card = json.loads(members["card.json"])
    if hashlib.sha256(members["model.bin"]).hexdigest() != card.get("model_sha256"):
        raise PackageRefused("the model's content differs from what was signed (tampered)")
    golden = members.get(GOLDEN)
    if card.get("golden_sha256") is not None:
        if golden is None or hashlib.sha256(golden).hexdigest() != card["golden_sha256"]:
            raise PackageRefused("the golden set differs from what was signed (tampered)")
    elif golden is not None:
        raise PackageRefused("the package carries a golden set its card does not sign")
    if card.get("package_id") in revoked:
        raise PackageRefused(f"package {card['package_id']!r} was revoked by its publisher")
    return VerifiedPackage(card, members["model.bin"], signer, golden)


def _members(data: bytes) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tar:
            for info in tar.getmembers():
                if not info.isfile() or "/" in info.name or info.size > MAX_MEMBER_BYTES:
                    raise PackageRefused(f"unexpected member {info.name!r} in the package")
                handle = tar.extractfile(info)
                assert handle is not None
                out[info.name] = handle.read()
    except tarfile.TarError as exc:
        raise PackageRefused(f"not a Dure model package ({exc})") from None
    return out
