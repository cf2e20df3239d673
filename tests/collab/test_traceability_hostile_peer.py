"""A hostile partner install against ``/peer/v1/shipments``, over real HTTP.

A supplier's install linked to the world's OEM sends shipment notices signed with its own
key. A notice is kept once, for the OEM it names, as the sender's: replayed, forged or
misaddressed notices are refused; an id that is another organisation's shipment changes
nothing of it; malformed notices (numbers as codes, NaN or absurd quantities, deep
nesting) keep nothing, and the OEM's trace and page keep loading. An OEM install cannot
"ship" to its supplier.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from dure.services.platform.accounts import system_caller
from dure.settings import Settings
from dure.store.session import Store
from tests.collab.peer_attacker import Attacker, link_attacker, mallory
from tests.factories import World

__all__ = ["mallory"]  # the fixture

SHIPMENTS = "/peer/v1/shipments"


def _notice(**changes: Any) -> dict[str, Any]:
    doc = {
        "id": "0123456789abcdef0123456789abcdef",
        "shipment_no": "MAL-DN-1",
        "part_number": "MAL-P1",
        "oem_part_number": "OEM-P1",
        "lots": [{"code": "MAL-L1", "quantity": 5, "serials": ["M1", "M2"]}],
        "shipped_at": "2026-01-07T08:00:00+00:00",
    }
    return {**doc, **changes}


def _shipments(store: Store, org: Any) -> dict[str, dict[str, Any]]:
    with store.session(system_caller(org), read_only=True) as s:
        return {x.id: {"org_id": x.org_id, "lots": x.lots} for x in s.shipments.list_all()}


def test_a_notice_is_kept_once_as_the_senders_and_never_replayed(
    mallory: Attacker, store: Store, world: World
) -> None:
    r = mallory.post(SHIPMENTS, _notice())
    assert r.status_code == 200, r.text
    assert mallory.replay(r).status_code == 401
    kept = _shipments(store, world.oem.org)[_notice()["id"]]
    assert kept["org_id"] == mallory.org.id
    # in supplier A's name, or addressed to supplier B: not a partner there
    assert mallory.post(SHIPMENTS, _notice(id="x" * 32), sender=world.a.org.id).status_code == 401
    assert mallory.post(SHIPMENTS, _notice(id="y" * 32), to=world.b.org.id).status_code == 401
    assert not {"x" * 32, "y" * 32} & set(_shipments(store, world.oem.org))


def test_a_notice_with_another_organisations_shipment_id_changes_nothing(
    mallory: Attacker, store: Store, world: World
) -> None:
    theirs = world.a.ids["shipment"]
    before = _shipments(store, world.oem.org)[theirs]
    r = mallory.post(SHIPMENTS, _notice(id=theirs, lots=[{"code": "sup-a-L1", "quantity": 9}]))
    assert r.status_code == 409, r.text
    assert _shipments(store, world.oem.org)[theirs] == before
    assert _shipments(store, world.a.org)[theirs] == before


BAD_NOTICES: list[tuple[str, dict[str, Any], str]] = [
    ("lots_text", {"lots": "MAL-L1"}, "lots"),
    ("code_number", {"lots": [{"code": 7}]}, "lots[0].code"),
    ("serial_number", {"lots": [{"code": "L", "serials": [1]}]}, "lots[0].serials[0]"),
    ("quantity_nan", {"lots": [{"code": "L", "quantity": float("nan")}]}, "lots[0].quantity"),
    ("quantity_huge", {"lots": [{"code": "L", "quantity": 10**400}]}, "lots[0].quantity"),
    ("quantity_bool", {"lots": [{"code": "L", "quantity": True}]}, "lots[0].quantity"),
    ("too_many_lots", {"lots": [{"code": f"L{i}"} for i in range(501)]}, "lots"),
    ("no_zone", {"shipped_at": "2026-01-07T08:00:00"}, "shipped_at"),
    ("before_utc_began", {"shipped_at": "0001-01-01T00:00:00+14:00"}, "shipped_at"),
    ("after_utc_ends", {"shipped_at": "9999-12-31T23:59:59-14:00"}, "shipped_at"),
    ("id_too_long", {"id": "z" * 33}, "id"),
    ("id_object", {"id": {"$ne": 1}}, "id"),
    ("control_chars", {"shipment_no": "DN\x00-1"}, "shipment_no"),
]


@pytest.mark.parametrize(("name", "changes", "field"), BAD_NOTICES, ids=[b[0] for b in BAD_NOTICES])
def test_a_malformed_notice_keeps_nothing_and_names_the_field(
    mallory: Attacker, store: Store, world: World, name: str, changes: dict, field: str
) -> None:
    data = json.dumps(_notice(**changes)).encode()  # Python writes NaN, and 400-digit ints
    r = mallory.post(SHIPMENTS, None, raw=data)
    assert r.status_code == 422, r.text
    assert r.json()["field"] == field
    assert _notice()["id"] not in _shipments(store, world.oem.org)


def test_a_deeply_nested_notice_is_refused(mallory: Attacker) -> None:
    raw = b'{"id": "d", "lots": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    r = mallory.post(SHIPMENTS, None, raw=raw)
    assert 400 <= r.status_code < 500, r.text


def test_the_oems_trace_survives_a_hostile_notice(
    mallory: Attacker, client: TestClient, store: Store, world: World
) -> None:
    """Lot codes that are another supplier's, absurd quantities: the trace is per supplier."""
    r = mallory.post(
        SHIPMENTS,
        _notice(lots=[{"code": "sup-a-L1", "quantity": 1_000_000_000, "serials": ["S1", "S2"]}]),
    )
    assert r.status_code == 200, r.text
    oem = world.oem.auth("operator")
    for supplier in (world.a.org.id, mallory.org.id):
        made = client.post(
            "/api/part-defects",
            json={
                "supplier_org_id": supplier,
                "stage": "assembly",
                "defect_type": "scratch",
                "found_at": "2026-01-09T10:00:00Z",
                "serials": ["S1"],
            },
            headers=oem,
        )
        assert made.status_code == 201, made.text
    trace = client.get("/api/part-defects/trace", headers=oem)
    assert trace.status_code == 200, trace.text
    by_supplier = {t["supplier_org_id"]: t for t in trace.json()}
    ours = by_supplier[world.a.org.id]["lots"][0]
    assert ours["lot_code"] == "sup-a-L1" and ours["shipped_quantity"] == 10  # A's own only
    assert ours["shipment_ids"] == [world.a.ids["shipment"]]
    assert client.get("/api/dashboard/traceability", headers=oem).status_code == 200


def test_an_oem_install_cannot_ship_to_its_supplier(
    settings: Settings, store: Store, client: TestClient, world: World, tmp_path: Path
) -> None:
    oem = link_attacker(
        settings, store, client, world.a.org, tmp_path / "mk-oem", "oem", "Mallory Motors"
    )
    r = oem.post(SHIPMENTS, _notice())
    assert r.status_code == 403, r.text
    assert _notice()["id"] not in _shipments(store, world.a.org)


def test_an_unsigned_body_is_never_read(client: TestClient) -> None:
    """An outsider's body (here not even JSON) is refused before anything parses it."""
    for path in (SHIPMENTS, "/peer/v1/root-cause-answers", "/peer/v1/kpi-reports"):
        r = client.post(
            path, content=b"{not json" * 1000, headers={"content-type": "application/json"}
        )
        assert r.status_code == 401, (path, r.status_code, r.text)
        signed_no_token = client.post(
            path, content=b"{not json", headers={"X-Dure-Signature": "c2ln"}
        )
        assert signed_no_token.status_code == 401
