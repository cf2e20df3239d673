"""Shipments between two installs over real HTTP: Hanul's notice reaches Hanbit signed,
Hanbit traces its defects to Hanul's lots, and no process value crossed.

Two installs run as processes (as in the test bed), each behind a wiretap that records
every byte between them.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from dure.bench.testbed import Install, _serve, _setup, _wait_up, stop_installs
from dure.domain.parts import Lot, PartNumber
from dure.domain.records import ProcessRecord
from dure.ports import free_port
from dure.services.platform.accounts import system_caller
from dure.settings import Settings
from dure.store.session import Store

pytestmark = [pytest.mark.multicompany, pytest.mark.slow]

LOT = "HANUL-DOOR-L27"
SERIALS = [f"HANUL-SN{k:04d}" for k in range(8)]
DIE_TEMPS = [68.123 + 0.517 * k for k in range(8)]  # Hanul's process values: never to cross


def _hanul_at_home(install: Install) -> None:
    """Hanul's part, lot and process records, kept in its own store."""
    store = Store.open(Settings(home=install.home))
    with store.system() as s:
        org = s.organisations.get_by_slug(install.slug)
    start = datetime(2026, 11, 20, 6, tzinfo=UTC)
    with store.session(system_caller(org)) as s:
        part = s.parts.add(PartNumber(org_id=org.id, number="HANUL-DOOR", name="Door panel"))
        lot = s.lots.add(Lot(org_id=org.id, part_id=part.id, code=LOT, quantity=400))
        for k, (serial, die) in enumerate(zip(SERIALS, DIE_TEMPS, strict=True)):
            s.process_records.add(
                ProcessRecord(
                    org_id=org.id,
                    part_id=part.id,
                    lot_id=lot.id,
                    serial=serial,
                    recorded_at=start + timedelta(minutes=5 * k),
                    values={"die_temp_C": die},
                    units={"die_temp_C": "°C"},
                )
            )
    install.part_id = part.id
    store.engine.dispose()


@pytest.fixture(scope="module")
def installs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Install, Install]]:
    out = tmp_path_factory.mktemp("trace-installs")
    oem = Install("hanbit", "Hanbit Appliances", "oem", out / "hanbit", free_port(), free_port())
    sup = Install("hanul", "Hanul Stamping", "supplier", out / "hanul", free_port(), free_port())
    both = (oem, sup)
    try:
        for install in both:
            _setup(install)
        _hanul_at_home(sup)
        for install in both:
            _serve(install, {}, out)
        for install in both:
            _wait_up(install)
        invitation = oem.call("POST", "/api/partners/invitations", json={})
        sup.call("POST", "/api/partners", json={"invitation": invitation["invitation"]})
        yield oem, sup
    finally:
        stop_installs(both)


def test_shipment_crosses_signed_and_defects_trace_to_its_lot(
    installs: tuple[Install, Install],
) -> None:
    oem, sup = installs
    body = {
        "oem_org_id": oem.org_id,
        "shipment_no": "HANUL-DN-27",
        "part_id": sup.part_id,
        "lots": [{"code": LOT, "quantity": 400, "serials": SERIALS}],
        "shipped_at": "2026-11-20T22:00:00Z",
        "oem_part_number": "HB-DOOR-01",
        "send": True,
    }
    refused = sup.call(
        "POST", "/api/shipments", expect=422, json={**body, "lots": [{"code": "NOT-OURS"}]}
    )
    assert refused["field"] == "lots[0].code"
    shipment = sup.call("POST", "/api/shipments", json=body)
    assert shipment["sent_at"]
    again = sup.call("POST", f"/api/shipments/{shipment['id']}/send")  # a retry is harmless
    assert again["id"] == shipment["id"]
    received = oem.call("GET", "/api/shipments")
    assert [(s["id"], s["org_id"], s["shipment_no"]) for s in received] == [
        (shipment["id"], sup.org_id, "HANUL-DN-27")
    ]
    assert received[0]["lots"][0]["serials"] == SERIALS

    oem.call("POST", "/api/defect-types", json={"code": "crack", "name": "Crack"})
    oem.call(
        "POST",
        "/api/part-defects",
        json={
            "supplier_org_id": sup.org_id,
            "stage": "assembly",
            "defect_type": "crack",
            "found_at": "2026-11-22T10:00:00Z",
            "serials": SERIALS[:5],
        },
    )
    trace = oem.call("GET", "/api/part-defects/trace")
    assert trace[0]["supplier_org_id"] == sup.org_id
    assert [(lot["lot_code"], lot["defects"]) for lot in trace[0]["lots"]] == [(LOT, 5)]
    assert sup.call("GET", "/api/part-defects") == []  # the OEM's records stay at the OEM

    taps = [i.tap.tap for i in (oem, sup) if i.tap is not None]
    crossed = b"".join(t.outbound() + t.inbound() for t in taps)
    assert b"POST /peer/v1/shipments" in crossed
    assert LOT.encode() in crossed and SERIALS[0].encode() in crossed  # the notice did cross
    for die in DIE_TEMPS:  # no process value or parameter did
        assert f"{die:.3f}".encode() not in crossed and f"{die}".encode() not in crossed
    assert b"die_temp_C" not in crossed and b"crack" not in crossed
