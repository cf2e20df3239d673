"""Root-cause answers must not let an OEM rebuild one part's record, over the API.

The k-parts rule is per group, but a group of k parts can still hide a single part's
value: a parameter measured on one part only of a lot, or an inspection outcome known for
one part only. Those figures are withheld. Two requests whose serials differ by one part
get the same aggregates (serials are answered by their whole lot), and a lot the supplier
shipped to another OEM only is none of this OEM's business.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from dure.domain.grants import GrantScope, ShareGrant
from dure.domain.parts import Lot, ParameterSpec
from dure.domain.records import InspectionRecord, ProcessRecord, Verdict
from dure.services.inspection.records import store_blob
from dure.services.platform.accounts import create_org, system_caller
from dure.services.traceability.shipments import record_shipment, send_within_install
from dure.store.session import Store
from tests.factories import World, png_bytes
from tests.services.root_cause_world import HOT, RootCauseWorld, build_root_cause_world
from tests.services.test_root_cause_budget_delivery import _age_rows

ODD_LOT = "RC-ODD"
ODD_VALUE = 93.37  # the one part's coil temperature: it must not be readable from an answer


@pytest.fixture
def rc(store: Store, world: World, tmp_path: Path) -> RootCauseWorld:
    rc = build_root_cause_world(store, world, tmp_path)
    sup = world.a.org
    at = datetime(2026, 2, 20, 6, tzinfo=UTC)
    with store.session(system_caller(sup)) as s:
        s.parameter_specs.put(
            ParameterSpec(
                org_id=sup.id, part_id=rc.part_id, parameter="coil_temp_C", lower=80, upper=110
            )
        )
        lot = s.lots.add(Lot(org_id=sup.id, part_id=rc.part_id, code=ODD_LOT))
        sha = store_blob(s, png_bytes(value=70), "image/png", "odd.png")
        for i in range(6):
            values = {"die_temp_C": 58.0 + i / 10}
            if i == 0:
                values["coil_temp_C"] = ODD_VALUE  # measured on this part only
            s.process_records.add(
                ProcessRecord(
                    org_id=sup.id,
                    part_id=rc.part_id,
                    recorded_at=at + timedelta(minutes=10 * i),
                    values=values,
                    lot_id=lot.id,
                    serial=f"SN-ODD-{i}",
                )
            )
        s.inspections.add(  # one part of the lot inspected: its verdict is that part's
            InspectionRecord(
                org_id=sup.id,
                part_id=rc.part_id,
                image_sha256=sha,
                lot_id=lot.id,
                serial="SN-ODD-0",
                verdict=Verdict.NG,
                defect_type="crack",
                score=0.9,
                taken_at=at + timedelta(hours=1),
            )
        )
    return rc


def _ask(client: TestClient, world: World, **body: object) -> dict:
    r = client.post(
        "/api/root-cause/requests",
        json={"supplier_org_id": world.a.org.id, **body},
        headers=world.oem.auth("engineer"),
    )
    assert r.status_code == 201, r.text
    return r.json()


def test_a_parameter_measured_on_fewer_than_k_parts_is_withheld(
    client: TestClient, world: World, rc: RootCauseWorld
) -> None:
    row = _ask(client, world, lots=[ODD_LOT])
    assert row["status"] == "answered", row
    (lot,) = json.loads(row["answer_text"])["lots"]
    assert lot["parts"] == 6
    by_name = {p["name"]: p for p in lot["parameters"]}
    assert by_name["die_temp_C"]["shift_sigma"] is not None  # six parts: an aggregate
    coil = by_name["coil_temp_C"]
    assert coil["shift_sigma"] is None and coil["cpk"] is None, coil
    assert lot["top_causes"] == [] or all(
        c["parameter"] != "coil_temp_C" for c in lot["top_causes"]
    )


def test_an_inspection_outcome_of_fewer_than_k_parts_is_withheld(
    client: TestClient, world: World, rc: RootCauseWorld
) -> None:
    row = _ask(client, world, lots=[ODD_LOT])
    (lot,) = json.loads(row["answer_text"])["lots"]
    inspection = lot["inspection"]
    assert inspection["inspected"] == 1
    assert inspection["ok"] is None and inspection["ng"] is None
    assert inspection["defect_types"] == {}
    page = client.get("/api/dashboard/root-cause", headers=world.oem.auth("viewer"))
    assert page.status_code == 200


def test_serial_sets_that_differ_by_one_part_get_the_same_aggregates(
    client: TestClient, world: World, rc: RootCauseWorld
) -> None:
    hot = sorted(HOT)[0]
    serials = rc.serials[hot]
    one = json.loads(_ask(client, world, serials=serials[:3])["answer_text"])
    two = json.loads(_ask(client, world, serials=serials[:4])["answer_text"])
    for doc in (one, two):
        doc.pop("request_id"), doc.pop("computed_at")
    assert one == two


def test_a_lot_shipped_to_another_oem_only_is_not_answered(
    client: TestClient, store: Store, world: World, rc: RootCauseWorld
) -> None:
    hot_for_oem, hot_for_other = sorted(HOT)
    with store.system() as s:
        other = create_org(s, "Other OEM", "oem", "other-oem")
        s.organisations.link(other.id, world.a.org.id)
    with store.session(system_caller(world.a.org)) as s:
        for code, oem_id in ((hot_for_oem, world.oem.org.id), (hot_for_other, other.id)):
            shipment = record_shipment(
                s,
                oem_org_id=oem_id,
                shipment_no=f"DN-{code}",
                part_id=rc.part_id,
                lots=[{"code": code}],
                shipped_at="2026-01-20T08:00:00Z",
                oem_part_number="OEM-P1",
            )
            send_within_install(s, shipment.id)
        s.grants.grant(
            ShareGrant(
                grantor_org_id=world.a.org.id,
                grantee_org_id=other.id,
                scope=GrantScope.ROOT_CAUSE,
                created_by=None,
            )
        )
    answer = json.loads(_ask(client, world, lots=[hot_for_oem, hot_for_other])["answer_text"])
    assert [lot["lot"] for lot in answer["lots"]] == [hot_for_oem]
    assert answer["lots_not_found"] == [hot_for_other]
    # a serial of the other OEM's lot is not answered either
    answer = json.loads(_ask(client, world, serials=rc.serials[hot_for_other][:1])["answer_text"])
    assert answer["lots"] == [] and answer["serials_not_found"] == 1
    # lots never shipped anywhere stay answerable (no shipments recorded for them)
    answer = json.loads(_ask(client, world, lots=["RC-L00"])["answer_text"])
    assert [lot["lot"] for lot in answer["lots"]] == ["RC-L00"]


def test_a_lot_that_changed_by_fewer_than_k_parts_is_not_answered_again(
    client: TestClient, store: Store, world: World, rc: RootCauseWorld
) -> None:
    """Two answers about a lot that grew by one part would give that part's values away."""
    sup = world.a.org
    at = datetime(2026, 3, 1, 6, tzinfo=UTC)
    with store.session(system_caller(sup)) as s:
        lot = s.lots.add(Lot(org_id=sup.id, part_id=rc.part_id, code="RC-GROW"))

    def make(first: int, n: int) -> None:
        with store.session(system_caller(sup)) as s:
            for i in range(first, first + n):
                s.process_records.add(
                    ProcessRecord(
                        org_id=sup.id,
                        part_id=rc.part_id,
                        recorded_at=at + timedelta(minutes=i),
                        values={"die_temp_C": 58.0 + (i % 3)},
                        lot_id=lot.id,
                        serial=f"SN-GROW-{i}",
                    )
                )

    make(0, 5)
    first = _ask(client, world, lots=["RC-GROW"])
    assert first["status"] == "answered"
    make(5, 1)  # one more part: the difference of two answers would be that part
    # within 24 h the same question gets the kept answer: the new part shows nowhere
    kept = _ask(client, world, lots=["RC-GROW"])
    assert kept["status"] == "answered"
    same = [json.loads(r["answer_text"]) for r in (kept, first)]
    assert [{**a, "request_id": None} for a in same][0] == {**same[1], "request_id": None}
    _age_rows(rc, 25)  # a day later the answer would be computed again
    again = _ask(client, world, lots=["RC-GROW"])
    assert again["status"] == "refused" and "changed by 1 part" in again["reason"]
    assert again["answer_text"] is None
    by_serial = _ask(client, world, serials=["SN-GROW-5"])  # nor through a serial
    assert by_serial["status"] == "refused"
    make(6, 4)  # five parts more than answered: an aggregate of them
    _age_rows(rc, 25)
    later = _ask(client, world, lots=["RC-GROW"])
    assert later["status"] == "answered"
    assert json.loads(later["answer_text"])["lots"][0]["parts"] == 10
    # an unchanged lot is answered again, as before
    assert _ask(client, world, lots=["RC-GROW"])["status"] == "answered"
