"""Signed model packages: verified before loading; tampered, unsigned, foreign-signed and
revoked packages are refused, each with its own reason."""

from __future__ import annotations

import io
import json
import tarfile

import pytest

from dure.collab.packages import PackageRefused, build_package, new_signing_key, verify_package

CARD = {
    "package_id": "pkg-7",
    "name": "sheet-metal panel inspector",
    "version": 3,
    "lineage": {"base": None},
    "intended_parts": ["PANEL-9"],
    "defect_taxonomy": ["scratch", "dent"],
    "metrics": {"image_auroc": 0.97},
}
MODEL = b"\x00weights\x01" * 1000


@pytest.fixture(scope="module")
def oem_keys() -> tuple[bytes, bytes]:
    return new_signing_key()


def _rebuild(package: bytes, change: dict[str, bytes]) -> bytes:
    members = {}
    with tarfile.open(fileobj=io.BytesIO(package)) as tar:
        for info in tar.getmembers():
            members[info.name] = tar.extractfile(info).read()  # type: ignore[union-attr]
    members.update(change)
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        for name, data in members.items():
            if data is None:
                continue
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def test_a_signed_package_verifies_and_keeps_card_and_model(oem_keys) -> None:  # type: ignore[no-untyped-def]
    private, public = oem_keys
    package = build_package(MODEL, CARD, "oem-hanbit", private)
    verified = verify_package(package, {"oem-hanbit": public})
    assert verified.model == MODEL and verified.signer == "oem-hanbit"
    assert verified.card["defect_taxonomy"] == ["scratch", "dent"]
    assert len(verified.card["model_sha256"]) == 64


def test_changed_weights_are_refused(oem_keys) -> None:  # type: ignore[no-untyped-def]
    private, public = oem_keys
    package = _rebuild(
        build_package(MODEL, CARD, "oem-hanbit", private), {"model.bin": MODEL + b"!"}
    )
    with pytest.raises(PackageRefused, match="content differs from what was signed"):
        verify_package(package, {"oem-hanbit": public})


def test_a_changed_card_is_refused(oem_keys) -> None:  # type: ignore[no-untyped-def]
    private, public = oem_keys
    package = build_package(MODEL, CARD, "oem-hanbit", private)
    with tarfile.open(fileobj=io.BytesIO(package)) as tar:
        card = json.loads(tar.extractfile("card.json").read())  # type: ignore[union-attr]
    card["metrics"]["image_auroc"] = 0.999
    forged = _rebuild(package, {"card.json": json.dumps(card, sort_keys=True).encode()})
    with pytest.raises(PackageRefused, match="signature does not match the card"):
        verify_package(forged, {"oem-hanbit": public})


def test_wrong_signer_unsigned_untrusted_and_revoked_are_refused(oem_keys) -> None:  # type: ignore[no-untyped-def]
    private, public = oem_keys
    other_private, _ = new_signing_key()
    impostor = build_package(MODEL, CARD, "oem-hanbit", other_private)
    with pytest.raises(PackageRefused, match="signature does not match"):
        verify_package(impostor, {"oem-hanbit": public})
    package = build_package(MODEL, CARD, "oem-hanbit", private)
    with pytest.raises(PackageRefused, match="not a trusted partner"):
        verify_package(package, {"someone-else": public})
    unsigned = _rebuild(package, {"signature.json": None})  # type: ignore[dict-item]
    with pytest.raises(PackageRefused, match="not signed"):
        verify_package(unsigned, {"oem-hanbit": public})
    with pytest.raises(PackageRefused, match="pkg-7' was revoked"):
        verify_package(package, {"oem-hanbit": public}, revoked={"pkg-7"})
    with pytest.raises(PackageRefused, match="not a Dure model package"):
        verify_package(b"garbage", {"oem-hanbit": public})
