"""A box's parity check never keeps a model from the line: a package without a golden set
is not checked, and one whose golden set cannot be read loads with status ``error``."""

from __future__ import annotations

from pathlib import Path

from dure.collab.packages import build_package, new_signing_key
from dure.collab.signing import fingerprint
from dure.edge.identity import EdgeIdentity
from dure.edge.models import ModelShelf
from tests.edge.test_updates import bundle, card

__all__ = ["bundle"]


def test_a_package_without_or_with_an_unreadable_golden_set_still_loads(
    tmp_path: Path, bundle: bytes
) -> None:
    site_private, site_public = new_signing_key()
    identity = EdgeIdentity("edge-1", "org-1", "b", "http://site", "t", site_public.decode(),
                            fingerprint(site_public))  # fmt: skip
    shelf = ModelShelf(tmp_path / "models", identity)
    plain = build_package(bundle, card("plain"), "org-1", site_private)
    shelf.install(plain, make_current=False)
    assert shelf.load("plain").parity is None
    golden = {"images": [{"name": "a.png", "sha256": "0" * 64, "score": 1.0, "input": {}}]}
    broken = build_package(
        bundle, card("broken", golden=golden), "org-1", site_private, golden=b"not a golden set"
    )
    shelf.install(broken)
    model = shelf.load("broken")
    assert model.parity is not None and model.parity["status"] == "error"
    assert "golden set" in model.parity["cause"] and model.parity["package_id"] == "broken"
    assert (tmp_path / "models" / "broken" / "parity.json").exists()
    assert model.inspector.threshold > 0  # the model itself is there for the line
