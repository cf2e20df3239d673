"""Model updates from the site: only packages signed with the pinned site key are taken; a
refused or unloadable package is remembered (not fetched again) and the model in use stays."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from dure.collab.packages import build_package, new_signing_key
from dure.collab.signing import fingerprint
from dure.edge.identity import EdgeIdentity, device_key
from dure.edge.models import ActiveModel, ModelShelf
from dure.edge.site import SiteClient
from dure.edge.updates import ModelUpdater
from dure.models.vision.edge_bundle import edge_bundle
from dure.models.vision.inspector import Inspector, TeachingSet
from dure.services.demo.sheet_metal import sheet_image
from tests.edge.contract_site import ContractSite

TOKEN = "tok"


def card(package_id: str, **more: object) -> dict[str, object]:
    return {"name": "edge", "version": 1, "package_id": package_id, "kind": "edge-inspector",
            "edge_format": "dure-edge/1", "model_version_id": "mv1", **more}  # fmt: skip


@pytest.fixture(scope="module")
def bundle() -> bytes:
    """A real (tiny) edge bundle: packages built from it load into an OnnxInspector."""

    def px(seed: int) -> np.ndarray:
        return sheet_image(seed, "good", 64).pixels

    data = TeachingSet(good=[px(k) for k in range(4)], held_out_good=[px(50), px(51)],
                       defects=[], defect_labels=[])  # fmt: skip
    return edge_bundle(Inspector({"image_size": 64, "coreset_ratio": 0.5}).fit(data))


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
        site.point(site_private, "edge-1", "forged", 1)  # the pointer is right, not the package
        assert updater.check_once() is None and updater.check_once() is None
        assert "does not match" in updater.refused["forged"]
        assert site.downloads == ["forged"] and not shelf.has("forged")
        site.point(site_private, "edge-1", "broken", 2)  # signed right, but no model inside
        assert updater.check_once() is None and updater.check_once() is None
        assert "broken" in updater.refused and shelf.has("broken")
        assert site.downloads == ["forged", "broken"]
        assert switched == [] and shelf.current() is None
        site.unavailable = True  # the site away: nothing changes, the reason is kept
        assert updater.check_once() is None and "503" in updater.last_error
    finally:
        client.close()
        site.stop()


def test_only_a_signed_pointer_for_this_box_and_no_older_than_the_model_in_use_is_followed(
    tmp_path: Path, bundle: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    site_private, site_public = new_signing_key()
    stranger, _ = new_signing_key()
    _, device_public = device_key(tmp_path / "box")
    site = ContractSite(TOKEN, device_public)
    site.start()
    identity = EdgeIdentity("edge-1", "org-1", "b", site.url, "t", site_public.decode(),
                            fingerprint(site_public))  # fmt: skip
    for pid in ("old", "new", "other"):
        site.packages[pid] = build_package(bundle, card(pid), "org-1", site_private)
    switched: list[ActiveModel] = []
    client = SiteClient(site.url, TOKEN, timeout_s=5)
    shelf = ModelShelf(tmp_path / "box" / "models", identity)
    active = lambda: switched[-1].package_id if switched else None  # noqa: E731
    updater = ModelUpdater(shelf, client, "edge-1", switched.append, active)
    caplog.set_level(logging.WARNING, "dure.edge.updates")
    try:
        site.point(site_private, "edge-1", "new", 5)
        assert updater.check_once() == "new"
        assert (shelf.current(), shelf.assignment()) == ("new", 5)
        # an older pointer, signed by the site but replayed by whoever answers as it
        site.point(site_private, "edge-1", "old", 4)
        assert updater.check_once() is None and updater.check_once() is None
        assert "older than 5" in updater.last_error
        assert sum("older than 5" in r.message for r in caplog.records) == 1  # logged once
        refusals = {
            "unsigned": {"package_id": "other", "sha256": "x", "assignment": 9},
            "changed after signing": site.point(site_private, "edge-1", "other", 6, assignment=9),
            "another key": site.point(stranger, "edge-1", "other", 9),
            "another box": site.point(site_private, "edge-2", "other", 9),
        }
        for why, pointer in refusals.items():
            site.pointer = pointer
            assert updater.check_once() is None, why
            assert ("edge box" if why == "another box" else "not signed") in updater.last_error
        # a pointer naming other bytes than those served under its package id
        site.point(site_private, "edge-1", "other", 9)
        site.packages["other"] = build_package(bundle, card("other", x=1), "org-1", site_private)
        assert updater.check_once() is None and "sha256" in updater.last_error
        assert not shelf.has("other")
        assert [m.package_id for m in switched] == ["new"] and shelf.current() == "new"
        site.point(site_private, "edge-1", "other", 9)  # the site's newer assignment
        assert updater.check_once() == "other"
        again = ModelShelf(tmp_path / "box" / "models", identity)  # after a restart
        assert (again.current(), again.assignment()) == ("other", 9)
        site.point(site_private, "edge-1", "other", 11)  # same package, newer number
        assert updater.check_once() is None and shelf.assignment() == 11
    finally:
        client.close()
        site.stop()
