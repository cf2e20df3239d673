"""From the trace to a root-cause request, over the API inside one install: the view
preselects the lots whose defects stand out, a request sent from the trace names exactly
the selected lots (defect type and place found from their defect records), and each
traced lot then carries the status of the newest request about it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from dure.domain.parts import DefectType
from dure.services.platform.accounts import system_caller
from dure.services.traceability.defects import record_defect
from dure.services.traceability.shipments import record_shipment, send_within_install
from dure.store.session import Store
from tests.factories import World
from tests.services.root_cause_world import LOTS, RootCauseWorld, build_root_cause_world

AT = datetime(2026, 1, 25, 9, 0, tzinfo=UTC)


def _ship_and_find(store: Store, rc: RootCauseWorld) -> None:
    """A ships its eight lots to the OEM; the OEM finds cracks at assembly in the hot lots
    (4 in RC-L06, 3 in RC-L07), one in RC-L02, and a field return naming RC-L07."""
    world = rc.world
    with store.session(system_caller(world.a.org)) as s:
        for k, code in enumerate(LOTS):
            shipment = record_shipment(
                s,
                oem_org_id=world.oem.org.id,
                shipment_no=f"RC-DN-{k}",
                part_id=rc.part_id,
                lots=[{"code": code, "quantity": 10, "serials": rc.serials[code]}],
                shipped_at=AT + timedelta(hours=k),
            )
            send_within_install(s, shipment.id)
    found = {"RC-L06": 4, "RC-L07": 3, "RC-L02": 1}
    with store.session(system_caller(world.oem.org)) as s:
        s.defect_types.add(DefectType(org_id=world.oem.org.id, code="crack", name="Crack"))
        for code, n in found.items():
            for serial in rc.serials[code][:n]:
                record_defect(
                    s,
                    supplier_org_id=world.a.org.id,
                    stage="assembly",
                    defect_type="crack",
                    found_at=AT + timedelta(days=2),
                    serials=[serial],
                )
        record_defect(
            s,
            supplier_org_id=world.a.org.id,
            stage="field_return",
            defect_type="crack",
            found_at=AT + timedelta(days=5),
            count=1,
            lot_codes=["RC-L07"],
        )


def _supplier(client: TestClient, world: World) -> dict[str, Any]:
    view = client.get("/api/dashboard/traceability", headers=world.oem.auth("engineer"))
    assert view.status_code == 200, view.text
    (a,) = [s for s in view.json()["suppliers"] if s["supplier_org_id"] == world.a.org.id]
    return a


def _requests(store: Store, world: World, company: str) -> list[Any]:
    org = getattr(world, company).org
    with store.session(system_caller(org), read_only=True) as s:
        return s.root_cause.list_all()


def test_ask_from_the_trace_names_exactly_the_selected_lots_and_shows_their_status(
    client: TestClient, store: Store, world: World, tmp_path: Path
) -> None:
    rc = build_root_cause_world(store, world, tmp_path)
    _ship_and_find(store, rc)
    oem = world.oem.auth("engineer")
    a = _supplier(client, world)
    assert [lot["lot_code"] for lot in a["lots"]][:3] == ["RC-L06", "RC-L07", "RC-L02"]
    assert a["suggested_lots"] == ["RC-L06", "RC-L07"]  # RC-L02's one crack does not stand out
    assert a["question"] == {"defect_type": "crack", "found_at": "assembly"}
    assert a["can_ask"] is True and a["ask_blocked"] is None
    assert all(lot["request"] is None for lot in a["lots"])

    # bad input names the field, and nothing is sent
    body = {"supplier_org_id": world.a.org.id, "lots": ["RC-L06", "RC-L05"]}
    r = client.post("/api/part-defects/trace/root-cause", json=body, headers=oem)
    assert r.status_code == 422 and "lots" in r.text and "RC-L05" in r.text
    r = client.post("/api/part-defects/trace/root-cause", json={**body, "lots": []}, headers=oem)
    assert r.status_code == 422 and "lots" in r.text
    r = client.post(
        "/api/part-defects/trace/root-cause",
        json={**body, "lots": ["RC-L06"]},
        headers=world.oem.auth("viewer"),
    )
    assert r.status_code == 403
    assert _requests(store, world, "oem") == [] and _requests(store, world, "a") == []

    # the engineer sends the preselected lots: exactly those are asked, and answered
    body["lots"] = a["suggested_lots"]
    r = client.post("/api/part-defects/trace/root-cause", json=body, headers=oem)
    assert r.status_code == 201, r.text
    sent = r.json()
    assert sent["question"] == {
        "defect_type": "crack",
        "found_at": "assembly",
        "lots": ["RC-L06", "RC-L07"],
    }
    first = sent["request"]
    assert first["lots"] == ["RC-L06", "RC-L07"] and first["serials"] == []
    assert first["status"] == "answered" and first["defect_type"] == "crack"
    (asked,) = _requests(store, world, "oem")
    (answering,) = _requests(store, world, "a")
    assert asked.lots == answering.lots == ["RC-L06", "RC-L07"]
    assert str(answering.found_at) == "assembly"

    # the view carries each lot's newest request; lots not asked about carry none
    a = _supplier(client, world)
    by_lot = {lot["lot_code"]: lot["request"] for lot in a["lots"]}
    assert by_lot["RC-L06"]["id"] == by_lot["RC-L07"]["id"] == first["id"]
    assert by_lot["RC-L06"]["status"] == "answered" and by_lot["RC-L06"]["answered_at"]
    assert by_lot["RC-L02"] is None

    # asking again about one lot: that lot shows the newer request, the other the first
    body["lots"] = ["RC-L07"]
    second = client.post("/api/part-defects/trace/root-cause", json=body, headers=oem).json()
    by_lot = {lot["lot_code"]: lot["request"] for lot in _supplier(client, world)["lots"]}
    assert by_lot["RC-L07"]["id"] == second["request"]["id"] != first["id"]
    assert by_lot["RC-L06"]["id"] == first["id"]
    # the root-cause page shows the request the trace links to
    page = client.get("/api/dashboard/root-cause", headers=oem).json()
    assert {r["id"] for r in page["traced"]} == {first["id"], second["request"]["id"]}

    # without a grant in force, the view says why no request can be sent
    with store.session(system_caller(world.a.org)) as s:
        s.grants.revoke(rc.grant_id)
    a = _supplier(client, world)
    assert a["can_ask"] is False and a["ask_blocked"] == "no_grant"
    assert {lot["lot_code"]: lot["request"]["id"] for lot in a["lots"] if lot["request"]} == {
        "RC-L06": first["id"],
        "RC-L07": second["request"]["id"],
    }


def test_a_supplier_sees_no_ask_fields_and_cannot_ask_from_a_trace(
    client: TestClient, store: Store, world: World, tmp_path: Path
) -> None:
    rc = build_root_cause_world(store, world, tmp_path)
    _ship_and_find(store, rc)
    view = client.get("/api/dashboard/traceability", headers=world.a.auth("engineer")).json()
    assert view["is_oem"] is False and view["suppliers"] == []
    body = {"supplier_org_id": world.b.org.id, "lots": ["RC-L06"]}
    r = client.post(
        "/api/part-defects/trace/root-cause", json=body, headers=world.a.auth("engineer")
    )
    assert r.status_code == 422 and "lots" in r.text  # A's own trace points to nothing
