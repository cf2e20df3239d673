"""The traceability API: a supplier records and sends a shipment, the OEM records defects
(JSON and CSV) and reads the trace; the routes only call the services."""

from __future__ import annotations

from tests.factories import World


def test_shipment_defects_and_trace_over_http(client, world: World) -> None:  # type: ignore[no-untyped-def]
    a, oem, b = world.a, world.oem, world.b
    body = {
        "oem_org_id": oem.org.id,
        "shipment_no": "A-SHIP-2",
        "part_id": a.ids["part"],
        "lots": [{"code": "sup-a-L1", "quantity": 50, "serials": ["S7", "S8"]}],
        "shipped_at": "2026-01-08T08:00:00Z",
    }
    refused = client.post(
        "/api/shipments", json={**body, "lots": [{"code": "sup-b-L1"}]}, headers=a.auth("engineer")
    )
    assert refused.status_code == 422 and refused.json()["field"] == "lots[0].code"
    created = client.post("/api/shipments", json=body, headers=a.auth("engineer"))
    assert created.status_code == 201, created.text
    shipment = created.json()
    assert shipment["sent_at"] is None and shipment["oem_part_number"] == "OEM-P1"
    assert client.get(f"/api/shipments/{shipment['id']}", headers=oem.auth()).status_code == 404
    sent = client.post(f"/api/shipments/{shipment['id']}/send", headers=a.auth("engineer"))
    assert sent.status_code == 200 and sent.json()["sent_at"]
    assert client.get(f"/api/shipments/{shipment['id']}", headers=oem.auth()).status_code == 200
    assert client.get(f"/api/shipments/{shipment['id']}", headers=b.auth()).status_code == 404
    assert client.get("/api/shipments", headers=b.auth()).json() == []

    defect = {
        "supplier_org_id": a.org.id,
        "stage": "assembly",
        "defect_type": "scratch",
        "found_at": "2026-01-09T10:00:00Z",
        "serials": ["S7", "S8"],
    }
    made = client.post("/api/part-defects", json=defect, headers=oem.auth("operator"))
    assert made.status_code == 201, made.text
    assert made.json()["count"] == 2
    viewer = client.post("/api/part-defects", json=defect, headers=oem.auth("viewer"))
    assert viewer.status_code == 403
    bad_csv = b"supplier,stage,defect_type,found_at,lots\nsup-a,assembly,scratch,noon,sup-a-L1\n"
    rejected = client.post(
        "/api/part-defects/import",
        files={"file": ("defects.csv", bad_csv, "text/csv")},
        headers=oem.auth("operator"),
    )
    assert rejected.status_code == 422
    problem = rejected.json()
    assert problem["errors"][0]["row"] == 1 and problem["errors"][0]["column"] == "found_at"
    good_csv = bad_csv.replace(b"noon", b"2026-01-09T11:00:00Z")
    imported = client.post(
        "/api/part-defects/import",
        files={"file": ("defects.csv", good_csv, "text/csv")},
        headers=oem.auth("operator"),
    )
    assert imported.status_code == 201 and imported.json()["stored"] == 1
    trace = client.get("/api/part-defects/trace", headers=oem.auth("viewer")).json()
    assert trace[0]["supplier_org_id"] == a.org.id
    assert [(lot["lot_code"], lot["defects"]) for lot in trace[0]["lots"]] == [("sup-a-L1", 3)]
    page = client.get("/api/dashboard/traceability", headers=oem.auth("viewer")).json()
    assert page["is_oem"] and page["suppliers"][0]["supplier"] == "Supplier A"
    assert page["defect_records"] == 2
    supplier_page = client.get("/api/dashboard/traceability", headers=a.auth("viewer")).json()
    assert supplier_page["defects"] == [] and supplier_page["suppliers"] == []
    assert {s["shipment_no"] for s in supplier_page["shipments"]} == {"A-SHIP-1", "A-SHIP-2"}
    assert client.get("/api/part-defects", headers=a.auth()).json() == []
    assert client.get("/api/dashboard/traceability", headers=b.auth()).json()["shipments"] == []
