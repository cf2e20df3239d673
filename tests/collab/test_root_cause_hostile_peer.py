"""A hostile supplier install against the OEM's root-cause routes, and a hostile OEM
install against the supplier's, over real HTTP (signed with the partner's own key).

The OEM's install keeps a supplier's answer only for a request it made to that very
supplier, still waiting, and only when the answer is the agreed aggregates (no NaN, no
other shapes): a forged, repeated or malformed answer is refused, audited, and the OEM's
root-cause page keeps loading. A hostile OEM's malformed request keeps nothing.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from dure.domain.root_cause import RootCauseRequest, RootCauseSide, RootCauseStatus
from dure.services.platform.accounts import system_caller
from dure.settings import Settings
from dure.store.session import Store
from tests.collab.peer_attacker import Attacker, link_attacker, mallory
from tests.factories import World

__all__ = ["mallory"]  # the fixture

ANSWERS = "/peer/v1/root-cause-answers"
REQUESTS = "/peer/v1/root-cause-requests"


def _asked(store: Store, world: World, partner_org_id: str, request_id: str) -> str:
    """The OEM's row of a request it sent ``partner_org_id``, waiting for the answer."""
    with store.session(system_caller(world.oem.org)) as s:
        row = s.root_cause.add(
            RootCauseRequest(
                org_id=world.oem.org.id,
                request_id=request_id,
                side=RootCauseSide.ASKED,
                partner_org_id=partner_org_id,
                lots=["MAL-L1"],
                serials=[],
                status=RootCauseStatus.WAITING,
            )
        )
    return row.id


def _answer(request_id: str, **changes: Any) -> dict[str, Any]:
    lot = {
        "lot": "MAL-L1",
        "made_on": None,
        "part_number": "MAL-P1",
        "parts": 8,
        "parameters": [
            {
                "name": "die_temp_C",
                "unit": "°C",
                "shift_sigma": 2.1,
                "normal_from": "history",
                "cpk": 0.71,
            }
        ],
        "top_causes": [{"parameter": "die_temp_C", "share": 0.8}],
        "inspection": {"inspected": 8, "ok": 6, "ng": 2, "defect_types": {"crack": 2}},
    }
    doc = {
        "request_id": request_id,
        "status": "answered",
        "min_group": 5,
        "lots": [lot],
        "lots_not_found": [],
        "serials_not_found": 0,
        "computed_at": "2026-12-01T07:00:00+00:00",
    }
    for key, value in changes.items():
        if key.startswith("lot."):
            lot[key[4:]] = value
        else:
            doc[key] = value
    return doc


def _oem_row(store: Store, world: World, row_id: str) -> RootCauseRequest:
    with store.session(system_caller(world.oem.org)) as s:
        return s.root_cause.get(row_id)


def _refusals(store: Store, world: World) -> list[dict[str, Any]]:
    with store.session(system_caller(world.oem.org)) as s:
        return [e.detail for e in s.audit_events.list_all(action="refuse")]


def test_an_answer_for_a_request_never_made_is_refused_and_audited(
    mallory: Attacker, store: Store, world: World
) -> None:
    r = mallory.post(ANSWERS, _answer("never-asked"))
    assert r.status_code == 404, r.text
    assert any(d.get("request_id") == "never-asked" for d in _refusals(store, world))


def test_an_answer_to_another_suppliers_request_is_refused(
    mallory: Attacker, store: Store, world: World
) -> None:
    # the OEM asked supplier A (same install); Mallory guesses or learned the request id
    row_id = _asked(store, world, world.a.org.id, "asked-of-a")
    r = mallory.post(ANSWERS, _answer("asked-of-a"))
    assert r.status_code == 404, r.text
    assert _oem_row(store, world, row_id).status is RootCauseStatus.WAITING
    # and in another organisation's name, or to another organisation: not a partner there
    assert mallory.post(ANSWERS, _answer("asked-of-a"), sender=world.a.org.id).status_code == 401
    assert mallory.post(ANSWERS, _answer("asked-of-a"), to=world.b.org.id).status_code == 401


def test_an_answer_is_kept_once_and_cannot_be_replaced(
    mallory: Attacker, store: Store, world: World
) -> None:
    row_id = _asked(store, world, mallory.org.id, "req-once")
    first = mallory.post(ANSWERS, _answer("req-once"))
    assert first.status_code == 200, first.text
    kept = _oem_row(store, world, row_id)
    assert kept.status is RootCauseStatus.ANSWERED
    assert mallory.replay(first).status_code == 401  # the same bytes again: a replay
    rewritten = mallory.post(ANSWERS, _answer("req-once", **{"lot.parts": 800}))
    assert rewritten.status_code == 409, rewritten.text
    declined = mallory.post(ANSWERS, {"request_id": "req-once", "status": "declined"})
    assert declined.status_code == 409, declined.text
    assert _oem_row(store, world, row_id).answer_text == kept.answer_text
    assert any(d.get("request_id") == "req-once" for d in _refusals(store, world))


BAD_ANSWERS: list[tuple[str, Any, str]] = [
    ("lots_not_a_list", {"lots": "MAL-L1"}, "lots"),
    ("lot_not_an_object", {"lots": ["MAL-L1"]}, "lots[0]"),
    ("parameters_not_objects", {"lot.parameters": ["die_temp_C"]}, "lots[0].parameters[0]"),
    ("top_causes_strings", {"lot.top_causes": ["die_temp_C"]}, "lots[0].top_causes[0]"),
    ("shift_nan", {"lot.parameters": [{"name": "t", "shift_sigma": float("nan")}]}, "shift"),
    ("parts_infinite", {"lot.parts": float("inf")}, "lots[0].parts"),
    ("parts_text", {"lot.parts": "eight"}, "lots[0].parts"),
    ("inspection_list", {"lot.inspection": [1, 2]}, "lots[0].inspection"),
    ("status_waiting", {"status": "waiting"}, "status"),
    ("status_pending", {"status": "pending_review"}, "status"),
    ("status_unknown", {"status": "hacked"}, "status"),
    ("deep", {"lot.note": json.loads("[" * 200 + "]" * 200)}, "lots[0]"),
]


@pytest.mark.parametrize(("name", "changes", "field"), BAD_ANSWERS, ids=[b[0] for b in BAD_ANSWERS])
def test_a_malformed_answer_is_refused_and_the_oem_page_still_loads(
    mallory: Attacker, store: Store, world: World, name: str, changes: dict, field: str
) -> None:
    row_id = _asked(store, world, mallory.org.id, f"req-{name}"[:32])
    r = mallory.post(ANSWERS, _answer(f"req-{name}"[:32], **changes))
    assert r.status_code == 422, r.text
    assert field in r.json().get("field", ""), r.json()
    row = _oem_row(store, world, row_id)
    assert row.status is RootCauseStatus.WAITING and row.answer_text is None
    page = mallory.client.get("/api/dashboard/root-cause", headers=world.oem.auth("viewer"))
    assert page.status_code == 200, page.text


def test_a_deeply_nested_body_is_refused_before_anything_is_kept(
    mallory: Attacker, store: Store, world: World
) -> None:
    _asked(store, world, mallory.org.id, "req-deep")
    raw = b'{"request_id": "req-deep", "status": "answered", "lots": ' + b"[" * 100_000
    raw += b"]" * 100_000 + b"}"
    r = mallory.post(ANSWERS, None, raw=raw)
    assert 400 <= r.status_code < 500, r.text


@pytest.fixture
def mallory_oem(
    settings: Settings, store: Store, client: TestClient, world: World, tmp_path: Path
) -> Attacker:
    """An OEM install linked to the world's supplier A."""
    return link_attacker(
        settings, store, client, world.a.org, tmp_path / "mk-oem", "oem", "Mallory Motors"
    )


BAD_REQUESTS: list[tuple[str, Any]] = [
    ("lots_numbers", {"request_id": "r1", "lots": [1, 2, 3]}),
    ("lots_nan", {"request_id": "r2", "lots": [float("nan")]}),
    ("lots_object", {"request_id": "r3", "lots": "sup-a-L1"}),
    ("request_id_number", {"request_id": 12, "lots": ["sup-a-L1"]}),
    ("defect_type_list", {"request_id": "r5", "lots": ["sup-a-L1"], "defect_type": ["x"]}),
    ("found_at_object", {"request_id": "r6", "lots": ["sup-a-L1"], "found_at": {"a": 1}}),
    ("too_many", {"request_id": "r7", "serials": [f"S{i}" for i in range(600)]}),
    ("nothing_named", {"request_id": "r8"}),
]


@pytest.mark.parametrize(("name", "body"), BAD_REQUESTS, ids=[b[0] for b in BAD_REQUESTS])
def test_a_malformed_request_from_an_oem_install_keeps_nothing(
    mallory_oem: Attacker, store: Store, world: World, name: str, body: dict
) -> None:
    r = mallory_oem.post(REQUESTS, body)
    assert r.status_code in (400, 403, 422), r.text
    with store.session(system_caller(world.a.org)) as s:
        assert s.root_cause.list_all() == []


def test_a_request_without_a_grant_is_refused_and_audited_at_the_supplier(
    mallory_oem: Attacker, store: Store, world: World
) -> None:
    r = mallory_oem.post(REQUESTS, {"request_id": "no-grant", "lots": ["sup-a-L1"]})
    assert r.status_code == 403, r.text
    with store.session(system_caller(world.a.org)) as s:
        events = s.audit_events.list_all(action="refuse")
        (row,) = s.root_cause.list_all()
    assert any("ROOT_CAUSE" in e.detail.get("reason", "") for e in events)
    assert row.status is RootCauseStatus.REFUSED and row.answer_text is None
