"""Tenant scoping and roles on the traceability and root-cause routes, over the API.

Another organisation's shipment, defect or root-cause row answers 404 (never its data);
viewers and engineers cannot decide answers or change the review mode; the OEM cannot
change a grant it holds; a defect CSV with bad rows names every row and column and keeps
nothing, and a supplier name shared by two linked organisations is refused, not guessed.
"""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from dure.domain.organisations import Organisation, OrgKind
from dure.services.platform.accounts import system_caller
from dure.store.session import Store
from tests.factories import World
from tests.services.root_cause_world import HOT, build_root_cause_world


def test_another_organisations_shipments_and_defects_answer_404(
    client: TestClient, world: World
) -> None:
    a, b, oem = world.a, world.b, world.oem
    shipment = a.ids["shipment"]
    for who in (b.auth("admin"), b.auth("viewer")):
        assert client.get(f"/api/shipments/{shipment}", headers=who).status_code == 404
        r = client.post(f"/api/shipments/{shipment}/send", headers=who)
        assert r.status_code in (403, 404) and "sup-a-L1" not in r.text
    # the OEM reads a shipment sent to it, but cannot send it again as its own
    assert client.get(f"/api/shipments/{shipment}", headers=oem.auth("viewer")).status_code == 200
    r = client.post(f"/api/shipments/{shipment}/send", headers=oem.auth("admin"))
    assert r.status_code == 404
    # a viewer of the supplier records and sends nothing
    body = {
        "oem_org_id": oem.org.id,
        "shipment_no": "A-V-1",
        "part_id": a.ids["part"],
        "lots": [{"code": "sup-a-L1"}],
        "shipped_at": "2026-01-08T08:00:00Z",
    }
    assert client.post("/api/shipments", json=body, headers=a.auth("viewer")).status_code == 403
    assert (
        client.post(f"/api/shipments/{shipment}/send", headers=a.auth("viewer")).status_code == 403
    )
    # B's part, or an organisation that is not an OEM of A: refused by field
    r = client.post(
        "/api/shipments", json={**body, "part_id": b.ids["part"]}, headers=a.auth("engineer")
    )
    assert r.status_code == 422 and r.json()["field"] == "part_id"
    r = client.post(
        "/api/shipments", json={**body, "oem_org_id": b.org.id}, headers=a.auth("engineer")
    )
    assert r.status_code == 422 and r.json()["field"] == "oem_org_id"
    # the OEM's defect records and their trace are its own
    defect = {
        "supplier_org_id": a.org.id,
        "stage": "incoming",
        "defect_type": "scratch",
        "found_at": "2026-01-09T10:00:00Z",
        "serials": ["S1"],
    }
    made = client.post("/api/part-defects", json=defect, headers=oem.auth("operator"))
    assert made.status_code == 201, made.text
    defect_id = made.json()["id"]
    for who in (a.auth("admin"), b.auth("admin")):
        assert client.get("/api/part-defects", headers=who).json() == []
        trace = client.get(f"/api/part-defects/trace?defect_id={defect_id}", headers=who)
        assert trace.status_code == 200 and trace.json() == []
    # a supplier cannot file defects against another supplier (it is no OEM of theirs)
    r = client.post(
        "/api/part-defects", json={**defect, "supplier_org_id": b.org.id}, headers=a.auth()
    )
    assert r.status_code == 422 and r.json()["field"] == "supplier_org_id"


def test_root_cause_rows_and_decisions_stay_with_their_organisation(
    client: TestClient, store: Store, world: World, tmp_path: Path
) -> None:
    rc = build_root_cause_world(store, world, tmp_path)
    a, b, oem = world.a, world.b, world.oem
    admin_a = a.auth("admin")
    r = client.put(
        f"/api/grants/{rc.grant_id}/review-before-send",
        json={"review_before_send": True},
        headers=admin_a,
    )
    assert r.status_code == 200
    ask = {"supplier_org_id": a.org.id, "lots": [sorted(HOT)[0]], "defect_type": "crack"}
    assert (
        client.post("/api/root-cause/requests", json=ask, headers=oem.auth("viewer")).status_code
        == 403
    )
    r = client.post("/api/root-cause/requests", json=ask, headers=oem.auth("engineer"))
    assert r.status_code == 201 and r.json()["status"] == "waiting"
    (pending,) = [
        x
        for x in client.get("/api/root-cause/requests", headers=admin_a).json()
        if x["status"] == "pending_review"
    ]
    for verb in ("approve", "decline"):
        path = f"/api/root-cause/requests/{pending['id']}/{verb}"
        for role in ("viewer", "operator", "engineer"):
            assert client.post(path, headers=a.auth(role)).status_code == 403, (verb, role)
        assert client.post(path, headers=b.auth("admin")).status_code == 404
        assert client.post(path, headers=oem.auth("admin")).status_code == 404
    # the review mode: the grantee (the OEM) cannot switch it off, nor B, nor A's viewer
    path = f"/api/grants/{rc.grant_id}/review-before-send"
    off = {"review_before_send": False}
    assert client.put(path, json=off, headers=oem.auth("admin")).status_code == 403
    assert client.put(path, json=off, headers=b.auth("admin")).status_code == 404
    assert client.put(path, json=off, headers=a.auth("viewer")).status_code == 403
    # B sees no row of the round, the OEM none of A's side
    assert client.get("/api/root-cause/requests", headers=b.auth("admin")).json() == []
    page = client.get("/api/dashboard/root-cause", headers=b.auth("viewer")).json()
    assert page["traced"] == [] and page["shared"] == [] and page["grants_given"] == []
    oem_rows = client.get("/api/root-cause/requests", headers=oem.auth("viewer")).json()
    assert {x["side"] for x in oem_rows} == {"asked"} and not oem_rows[0]["answer_text"]
    # the decision is A's admin's, and audited on both sides
    r = client.post(f"/api/root-cause/requests/{pending['id']}/decline", headers=admin_a)
    assert r.status_code == 200 and r.json()["status"] == "declined"
    with store.session(system_caller(a.org)) as s:
        a_seen = {(e.action, e.resource) for e in s.audit_events.list_all()}
    with store.session(system_caller(oem.org)) as s:
        oem_seen = {(e.action, e.resource) for e in s.audit_events.list_all()}
    assert ("send", "root_cause_answer") in a_seen
    assert ("receive", "root_cause_answer") in oem_seen


def test_defect_csv_names_every_bad_row_and_keeps_nothing(client: TestClient, world: World) -> None:
    oem = world.oem.auth("operator")
    rows = [
        "supplier,stage,defect_type,found_at,count,lots,serials",
        "sup-a,assembly,scratch,2026-01-09T10:00:00Z,,sup-a-L1,",  # good
        "sup-a,roof,scratch,2026-01-09T10:00:00Z,,sup-a-L1,",  # stage
        "sup-a,assembly,scratch,2026-01-09T10:00:00Z,nan,sup-a-L1,",  # count
        "sup-a,assembly,scratch,2026-01-09T10:00:00Z,1e400,sup-a-L1,",  # count
        "sup-b,assembly,scratch,2026-01-09T10:00:00Z,,sup-a-L1,",  # lot not shipped by B
        "nobody,assembly,scratch,2026-01-09T10:00:00Z,,sup-a-L1,",  # supplier
        "sup-a,assembly,scratch,2026-01-09T10:00:00Z,,,S9",  # serial in no shipment
    ]
    r = client.post(
        "/api/part-defects/import",
        files={"file": ("defects.csv", "\n".join(rows).encode(), "text/csv")},
        headers=oem,
    )
    assert r.status_code == 422, r.text
    errors = [(e["row"], e["column"]) for e in r.json()["errors"]]
    assert errors == [
        (2, "stage"),
        (3, "count"),
        (4, "count"),
        (5, "lots"),
        (6, "supplier"),
        (7, "serials"),
    ]
    assert client.get("/api/part-defects", headers=oem).json() == []


def test_defect_csv_refuses_a_supplier_name_two_organisations_share(
    client: TestClient, store: Store, world: World
) -> None:
    """A partner install may call itself anything: its name must not capture rows."""
    with store.system() as s:
        twin = s.organisations.add(
            Organisation(name=world.a.org.name, kind=OrgKind.SUPPLIER, slug="mallory")
        )
        s.organisations.link(world.oem.org.id, twin.id)
    rows = [
        "supplier,stage,defect_type,found_at,lots",
        f"{world.a.org.name},assembly,scratch,2026-01-09T10:00:00Z,sup-a-L1",
    ]
    r = client.post(
        "/api/part-defects/import",
        files={"file": ("defects.csv", "\n".join(rows).encode(), "text/csv")},
        headers=world.oem.auth("operator"),
    )
    assert r.status_code == 422, r.text
    assert [(e["row"], e["column"]) for e in r.json()["errors"]] == [(1, "supplier")]
    assert (
        "two" in r.json()["errors"][0]["reason"]
        or "more than one" in r.json()["errors"][0]["reason"]
    )
    rows[1] = rows[1].replace(world.a.org.name, world.a.org.slug, 1)
    r = client.post(
        "/api/part-defects/import",
        files={"file": ("defects.csv", "\n".join(rows).encode(), "text/csv")},
        headers=world.oem.auth("operator"),
    )
    assert r.status_code == 201, r.text
