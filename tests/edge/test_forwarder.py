"""The forwarder against a real HTTP server speaking the site's contract: signed batches of
at most 8, oldest first; stored/duplicate -> sent; refused kept; outages retried."""

from __future__ import annotations

import base64
import time
from pathlib import Path

import numpy as np
import pytest

from dure.collab.packages import new_signing_key
from dure.edge.forwarder import Forwarder
from dure.edge.identity import EdgeIdentity, device_key
from dure.edge.site import SiteClient, SiteUnavailable
from dure.edge.spool import PENDING, REFUSED, SENT, ResultSpool
from dure.ports import free_port
from tests.edge.contract_site import ContractSite

TOKEN = "test-token"


def identity(url: str) -> EdgeIdentity:
    _, site_public = new_signing_key()
    return EdgeIdentity("edge-1", "org-1", "press-1", url, "unused", site_public.decode(), "fp")


@pytest.fixture
def box(tmp_path: Path):  # type: ignore[no-untyped-def]
    private, public = device_key(tmp_path / "home")
    site = ContractSite(TOKEN, public)
    site.start()
    spool = ResultSpool(tmp_path / "home" / "spool")
    client = SiteClient(site.url, TOKEN, timeout_s=5)
    forwarder = Forwarder(spool, client, identity(site.url), private)
    yield site, spool, forwarder
    forwarder.stop()
    client.close()
    site.stop()
    spool.close()


def fill(spool: ResultSpool, serials: list[str]) -> list[str]:
    rids = []
    for i, serial in enumerate(serials):
        rid = f"{i:032x}"
        raw = np.full((4, 6), i, np.float32)
        spool.add(
            rid, {"rid": rid, "package_id": "p1", "serial": serial}, b"png%d" % i, ".png", raw
        )
        rids.append(rid)
    return rids


def test_batches_of_eight_oldest_first_with_image_and_map(box) -> None:  # type: ignore[no-untyped-def]
    site, spool, forwarder = box
    rids = fill(spool, [f"s{i}.png" for i in range(19)])
    while forwarder.forward_once():
        pass
    assert site.batches == [rids[:8], rids[8:16], rids[16:]]
    assert spool.counts() == {PENDING: 0, SENT: 19, REFUSED: 0}
    posted = site.records[rids[5]]
    assert base64.b64decode(posted["image_b64"]) == b"png5"
    raw = np.frombuffer(base64.b64decode(posted["raw_map"]["b64"]), "<f4")
    assert posted["raw_map"]["shape"] == [4, 6] and np.all(raw.reshape(4, 6) == 5)


def test_a_result_the_site_has_already_is_sent_and_refused_is_kept(box) -> None:  # type: ignore[no-untyped-def]
    site, spool, forwarder = box
    rids = fill(spool, ["a.png", "bad.png", "c.png"])
    site.records[rids[0]] = {"rid": rids[0]}  # posted before a crash, answer never read
    assert forwarder.forward_once() == 3
    assert spool.result(rids[0])["state"] == SENT
    assert spool.result(rids[1])["state"] == REFUSED
    assert spool.refused() == [(rids[1], "results[1].serial: refused by the test")]
    assert forwarder.forward_once() == 0  # a refusal is final: never sent again
    assert site.batches == [rids]


def test_an_outage_keeps_everything_and_the_thread_catches_up(box) -> None:  # type: ignore[no-untyped-def]
    site, spool, forwarder = box
    site.unavailable = True
    rids = fill(spool, [f"s{i}.png" for i in range(5)])
    with pytest.raises(SiteUnavailable):
        forwarder.forward_once()
    assert spool.counts()[PENDING] == 5
    forwarder.start()
    deadline = time.monotonic() + 5
    while forwarder.down_since is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert forwarder.down_since is not None and "503" in forwarder.last_error
    site.unavailable = False
    deadline = time.monotonic() + 15
    # the thread settles the results, then notes the recovery: wait for both
    while (spool.counts()[PENDING] or forwarder.down_since) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert spool.counts() == {PENDING: 0, SENT: 5, REFUSED: 0}
    assert sorted(site.records) == sorted(rids) and forwarder.down_since is None


def test_a_site_that_is_not_listening_is_an_outage(tmp_path: Path) -> None:
    private, _ = device_key(tmp_path / "home")
    spool = ResultSpool(tmp_path / "spool")
    fill(spool, ["a.png"])
    url = f"http://127.0.0.1:{free_port()}"
    client = SiteClient(url, TOKEN, timeout_s=2)
    with pytest.raises(SiteUnavailable):
        Forwarder(spool, client, identity(url), private).forward_once()
    assert spool.counts()[PENDING] == 1


def test_a_body_signed_with_another_key_is_refused_by_the_site(box, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    site, spool, forwarder = box
    fill(spool, ["a.png"])
    other, _ = device_key(tmp_path / "other")
    forwarder.private_pem = other
    with pytest.raises(SiteUnavailable, match="401"):  # kept: a person fixes the key
        forwarder.forward_once()
    assert site.rejected_signatures == 1 and spool.counts()[PENDING] == 1


@pytest.mark.parametrize("status", [404, 405, 408, 409, 410, 425])
def test_an_answer_that_is_not_about_the_results_keeps_them(box, status: int) -> None:  # type: ignore[no-untyped-def]
    # a proxy in front of a site being upgraded (404), a timeout (408), a conflict the site
    # will resolve (409): nothing says the results are bad, so none may be given up
    site, spool, forwarder = box
    fill(spool, ["a.png", "b.png"])
    site.refuse_posts = (status, "not now")
    for _ in range(3):
        with pytest.raises(SiteUnavailable, match=str(status)):
            forwarder.forward_once()
    assert spool.counts() == {PENDING: 2, SENT: 0, REFUSED: 0}
    site.refuse_posts = None
    while forwarder.forward_once():
        pass
    assert spool.counts() == {PENDING: 0, SENT: 2, REFUSED: 0}


@pytest.mark.parametrize("status", [400, 413, 422])
def test_a_result_the_site_refuses_whole_is_kept_as_refused_alone(box, status: int) -> None:  # type: ignore[no-untyped-def]
    site, spool, forwarder = box
    rids = fill(spool, ["a.png", "b.png"])
    site.refuse_posts = (status, "too big")
    assert forwarder.forward_once() == 0  # the batch: now one at a time
    assert forwarder.forward_once() == 1
    assert spool.result(rids[0])["state"] == REFUSED
    assert spool.refused() == [(rids[0], f"{status}: too big")]
    assert spool.counts()[PENDING] == 1


def test_a_result_whose_files_are_gone_is_set_aside_and_the_rest_go_on(box) -> None:  # type: ignore[no-untyped-def]
    # a spool file removed or damaged on the box must not hold up every result behind it
    site, spool, forwarder = box
    rids = fill(spool, ["a.png", "b.png", "c.png", "d.png"])
    (spool.images / f"{rids[0]}.png").unlink()
    (spool.maps / f"{rids[1]}.npy").write_bytes(b"not a map")
    (spool.maps / f"{rids[2]}.npy").write_bytes(b"")
    while forwarder.forward_once():
        pass
    assert spool.counts() == {PENDING: 0, SENT: 1, REFUSED: 3}
    assert sorted(site.records) == [rids[3]]
    reasons = dict(spool.refused())
    assert all("cannot be read on the box" in reasons[rid] for rid in rids[:3])
