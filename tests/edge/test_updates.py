"""Model updates from the site: only packages signed with the pinned site key are taken; a
refused or unloadable package is remembered (not fetched again) and the model in use stays."""

from __future__ import annotations

from pathlib import Path

from dure.collab.packages import build_package, new_signing_key
from dure.collab.signing import fingerprint
from dure.edge.identity import EdgeIdentity, device_key
from dure.edge.models import ActiveModel, ModelShelf
from dure.edge.site import SiteClient
from dure.edge.updates import ModelUpdater
from tests.edge.contract_site import ContractSite

TOKEN = "tok"


def card(package_id: str) -> dict[str, object]:
    return {"name": "edge", "version": 1, "package_id": package_id, "kind": "edge-inspector",
            "edge_format": "dure-edge/1", "model_version_id": "mv1"}  # fmt: skip


def test_foreign_and_unloadable_packages_are_refused_once_and_the_model_stays(
    tmp_path: Path,
) -> None:
    site_private, site_public = new_signing_key()
    stranger, _ = new_signing_key()
    _, device_public = device_key(tmp_path / "box")
    site = ContractSite(TOKEN, device_public)
    site.start()
    identity = EdgeIdentity("edge-1", "org-1", "b", site.url, "t", site_public.decode(),
                            fingerprint(site_public))  # fmt: skip
    site.packages["forged"] = build_package(b"x", card("forged"), "org-1", stranger)
    site.packages["broken"] = build_package(b"not a bundle", card("broken"), "org-1", site_private)
    in_use = ActiveModel("old", "mv0", object())
    switched: list[ActiveModel] = []
    client = SiteClient(site.url, TOKEN, timeout_s=5)
    shelf = ModelShelf(tmp_path / "box" / "models", identity)
    updater = ModelUpdater(shelf, client, "edge-1", switched.append, lambda: in_use.package_id)
    try:
        assert updater.check_once() is None  # nothing assigned
        site.pointer = {"package_id": "forged"}
        assert updater.check_once() is None and updater.check_once() is None
        assert "does not match" in updater.refused["forged"]
        assert site.downloads == ["forged"] and not shelf.has("forged")
        site.pointer = {"package_id": "broken"}  # signed right, but no model inside
        assert updater.check_once() is None and updater.check_once() is None
        assert "broken" in updater.refused and shelf.has("broken")
        assert site.downloads == ["forged", "broken"]
        assert switched == [] and shelf.current() is None
        site.unavailable = True  # the site away: nothing changes, the reason is kept
        assert updater.check_once() is None and "503" in updater.last_error
    finally:
        client.close()
        site.stop()
