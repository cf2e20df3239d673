"""Traceability: supplier shipments of its own lots, the OEM's defects naming them, the trace."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from dure.collab.signing import KeyRing
from dure.domain.parts import Lot
from dure.domain.traceability import DefectStage
from dure.domain.users import Caller, Role
from dure.errors import Forbidden, InvalidInput, NotFound, RejectedFile
from dure.services.collaboration.context import Collab
from dure.services.platform.accounts import system_caller
from dure.services.traceability.defects import import_defects_csv, record_defect
from dure.services.traceability.shipments import (
    lots_shipped_to,
    receive_shipment,
    record_shipment,
    send_shipment,
)
from dure.services.traceability.trace import trace_defects
from dure.services.traceability.view import traceability_view
from dure.settings import Settings
from dure.store.session import Store
from tests.factories import World

AT = datetime(2026, 1, 10, 9, 0, tzinfo=UTC)


def _ctx(store: Store, settings: Settings) -> Collab:
    return Collab(store, KeyRing(settings.key_dir), "http://oem.example", settings.work_dir)


def _second_lot(store: Store, world: World) -> str:
    """Supplier A's lot L2 of its part, shipped (unsent) with serials S3..S5."""
    a = system_caller(world.a.org)
    with store.session(a) as s:
        s.lots.add(Lot(org_id=world.a.org.id, part_id=world.a.ids["part"], code="sup-a-L2"))
        shipment = record_shipment(
            s,
            oem_org_id=world.oem.org.id,
            shipment_no="A-SHIP-2",
            part_id=world.a.ids["part"],
            lots=[{"code": "sup-a-L2", "quantity": 100, "serials": ["S3", "S4", "S5"]}],
            shipped_at=AT,
        )
    return shipment.id


def test_a_shipment_reaches_the_oem_only_once_sent(
    store: Store, settings: Settings, world: World
) -> None:
    shipment_id = _second_lot(store, world)
    oem = system_caller(world.oem.org)
    with store.session(oem) as s:
        with pytest.raises(NotFound):
            s.shipments.get(shipment_id)
        assert [x.shipment_no for x in s.shipments.received()] == ["A-SHIP-1"]
    sent = send_shipment(_ctx(store, settings), system_caller(world.a.org), shipment_id)
    assert sent.sent_at is not None
    with store.session(oem) as s:
        got = s.shipments.get(shipment_id)
        assert got.oem_part_number == "OEM-P1"  # derived from A's part's OEM part
        assert got.lot_of_serials() == {"S3": "sup-a-L2", "S4": "sup-a-L2", "S5": "sup-a-L2"}
        events = s.audit_events.list_all(action="send", resource="shipment")
    assert events == []  # the send is audited under the supplier, not readable by the OEM
    with store.session(system_caller(world.a.org)) as s:
        assert s.audit_events.list_all(action="send", resource="shipment")


def test_a_shipment_names_only_the_suppliers_own_lots(store: Store, world: World) -> None:
    a = system_caller(world.a.org)
    kwargs = {
        "oem_org_id": world.oem.org.id,
        "shipment_no": "A-SHIP-9",
        "part_id": world.a.ids["part"],
        "shipped_at": AT,
    }
    with store.session(a) as s:
        with pytest.raises(InvalidInput) as bad:
            record_shipment(s, lots=["sup-a-L1", "sup-b-L1"], **kwargs)  # B's lot
        assert bad.value.field == "lots[1].code"
        with pytest.raises(InvalidInput) as bad:
            record_shipment(s, lots=[], **kwargs)
        assert bad.value.field == "lots"
        with pytest.raises(InvalidInput) as bad:
            record_shipment(
                s, lots=[{"code": "sup-a-L1", "quantity": 1, "serials": ["X", "Y"]}], **kwargs
            )
        assert bad.value.field == "lots[0].serials"
        with pytest.raises(InvalidInput) as bad:
            record_shipment(s, lots=["sup-a-L1"], **{**kwargs, "oem_org_id": world.b.org.id})
        assert bad.value.field == "oem_org_id"
        with pytest.raises(InvalidInput) as bad:
            record_shipment(s, lots=["sup-a-L1"], **{**kwargs, "part_id": world.b.ids["part"]})
        assert bad.value.field == "part_id"
        with pytest.raises(InvalidInput) as bad:
            record_shipment(s, lots=["sup-a-L1"], **{**kwargs, "shipped_at": "yesterday"})
        assert bad.value.field == "shipped_at"


def _defect(**fields):  # type: ignore[no-untyped-def]
    return {"stage": "assembly", "defect_type": "scratch", "found_at": AT, **fields}


def test_defects_trace_to_lots_with_counts_per_lot(
    store: Store, settings: Settings, world: World
) -> None:
    send_shipment(_ctx(store, settings), system_caller(world.a.org), _second_lot(store, world))
    sup = world.a.org.id
    with store.session(system_caller(world.oem.org)) as s:
        record_defect(s, supplier_org_id=sup, **_defect(serials=["S1"]))
        record_defect(s, supplier_org_id=sup, **_defect(lot_codes=["sup-a-L2"], count=3))
        record_defect(s, supplier_org_id=sup, **_defect(serials=["S4", "S5"], stage="field_return"))
        record_defect(
            s, supplier_org_id=sup, **_defect(lot_codes=["sup-a-L1", "sup-a-L2"], count=2)
        )
        traces = trace_defects(s)
        only_field = trace_defects(s, stage=DefectStage.FIELD_RETURN)
    assert len(traces) == 1 and traces[0].supplier_org_id == sup
    lots = {t.lot_code: t for t in traces[0].lots}
    assert [t.lot_code for t in traces[0].lots] == ["sup-a-L2", "sup-a-L1"]
    assert lots["sup-a-L2"].defects == 5
    assert lots["sup-a-L2"].by_stage == {"assembly": 3, "field_return": 2}
    assert sorted(lots["sup-a-L2"].serials) == ["S4", "S5"]
    assert lots["sup-a-L2"].shipped_quantity == 100 and lots["sup-a-L2"].ppm == 50000.0
    assert lots["sup-a-L1"].defects == 1 and lots["sup-a-L1"].serials == ["S1"]
    assert traces[0].unattributed == 2  # two lots, no serials: not guessed
    assert traces[0].defects == 8
    assert [(t.lot_code, t.defects) for t in only_field[0].lots] == [("sup-a-L2", 2)]


def test_a_defect_names_only_what_the_supplier_shipped(store: Store, world: World) -> None:
    _second_lot(store, world)  # recorded, never sent: the OEM does not know these lots
    sup = world.a.org.id
    with store.session(system_caller(world.oem.org)) as s:
        cases = [
            ({"lot_codes": ["sup-a-L2"]}, "lot_codes[0]"),
            ({"serials": ["S3"]}, "serials[0]"),
            ({"serials": ["S1"], "count": 0}, "count"),
            ({"serials": ["S1", "S2"], "count": 1}, "count"),
            ({}, "lot_codes"),
            ({"lot_codes": ["sup-a-L1"], "defect_type": "crackle"}, "defect_type"),
            ({"lot_codes": ["sup-a-L1"], "stage": "shipping"}, "stage"),
            ({"lot_codes": ["sup-a-L1"], "found_at": "2026-01-10T09:00"}, "found_at"),
        ]
        for fields, field in cases:
            with pytest.raises(InvalidInput) as bad:
                record_defect(s, supplier_org_id=sup, **_defect(**fields))
            assert bad.value.field == field, (fields, bad.value)
        with pytest.raises(InvalidInput) as bad:
            record_defect(s, supplier_org_id=world.oem.org.id, **_defect(lot_codes=["sup-a-L1"]))
        assert bad.value.field == "supplier_org_id"
        assert s.part_defects.list_own() == []
    with store.session(system_caller(world.a.org)) as s:  # a supplier records no OEM defects
        with pytest.raises(InvalidInput):
            record_defect(s, supplier_org_id=world.b.org.id, **_defect(lot_codes=["sup-b-L1"]))


GOOD_CSV = (
    "supplier,stage,defect_type,found_at,count,lots,serials,part_number,note\n"
    "sup-a,assembly,scratch,2026-01-10T09:00:00Z,,,S1;S2,OEM-P1,line 2\n"
    "Supplier A,incoming,scratch,2026-01-11T09:00:00+09:00,4,sup-a-L1,,,\n"
)


def test_csv_import_keeps_every_row_or_none(store: Store, world: World) -> None:
    oem = system_caller(world.oem.org)
    bad = (
        "supplier,stage,defect_type,found_at,count,lots\n"
        "sup-a,assembly,scratch,2026-01-10T09:00:00Z,2,sup-a-L1\n"
        "sup-a,assembly,scratch,2026-01-10T09:00:00Z,abc,sup-a-L1\n"
        "sup-a,assembly,scratch,2026-01-10T09:00:00Z,1,sup-a-L7\n"
        "nobody,assembly,scratch,2026-01-10T09:00:00Z,1,sup-a-L1\n"
    )
    with store.session(oem) as s:
        with pytest.raises(RejectedFile) as rejected:
            import_defects_csv(s, bad.encode(), "bad.csv")
    errors = [(e["row"], e["column"]) for e in rejected.value.errors]
    assert errors == [(2, "count"), (3, "lots"), (4, "supplier")]
    assert "row 2, column 'count'" in str(rejected.value)
    with store.session(oem) as s:
        assert s.part_defects.list_own() == []
        with pytest.raises(InvalidInput, match="unknown column 'colour'"):
            import_defects_csv(s, b"supplier,stage,defect_type,found_at,lots,colour\n", "x.csv")
        with pytest.raises(InvalidInput, match="'found_at' is missing"):
            import_defects_csv(s, b"supplier,stage,defect_type,lots\na,b,c,d\n", "x.csv")
        stored = import_defects_csv(s, GOOD_CSV.encode(), "good.csv")
    assert [(d.count, d.serials, d.lot_codes) for d in stored] == [
        (2, ["S1", "S2"], []),
        (4, [], ["sup-a-L1"]),
    ]
    with store.session(oem) as s:
        traces = trace_defects(s)
    assert [(t.lot_code, t.defects) for t in traces[0].lots] == [("sup-a-L1", 6)]


def test_other_organisations_read_neither_defects_nor_shipments(store: Store, world: World) -> None:
    with store.session(system_caller(world.oem.org)) as s:
        defect = record_defect(s, supplier_org_id=world.a.org.id, **_defect(serials=["S1"]))
    shipment_id = world.a.ids["shipment"]
    for org in (world.a.org, world.b.org):  # the supplier named by the defect too
        with store.session(system_caller(org), read_only=True) as s:
            with pytest.raises(NotFound):
                s.part_defects.get(defect.id)
            assert s.part_defects.list_all() == []
            view = traceability_view(s)
            assert view["defects"] == [] and view["suppliers"] == []
    with store.session(system_caller(world.b.org), read_only=True) as s:
        with pytest.raises(NotFound):
            s.shipments.get(shipment_id)
        assert s.shipments.list_all() == [] and s.shipments.received() == []
    with store.session(system_caller(world.oem.org), read_only=True) as s:
        view = traceability_view(s)
    assert [x["shipment_no"] for x in view["received_shipments"]] == ["A-SHIP-1"]
    assert view["suppliers"][0]["lots"][0]["lot_code"] == "sup-a-L1"


def test_a_notice_from_another_install_is_kept_for_the_oem_it_names(
    store: Store, world: World
) -> None:
    # the peer gate hands the service the sending supplier as caller (as authenticate_peer)
    peer = Caller(org_id=world.b.org.id, user_id=None, role=Role.ENGINEER, org_kind="supplier")
    doc = {
        "id": "0123456789abcdef0123456789abcdef",
        "shipment_no": "B-DN-1",
        "part_number": "sup-b-P1",
        "oem_part_number": "OEM-P1",
        "lots": [{"code": "sup-b-L1", "quantity": 5, "serials": ["B1"]}],
        "shipped_at": "2026-01-07T08:00:00+00:00",
    }
    with store.session(peer) as s:
        with pytest.raises(InvalidInput) as bad:
            receive_shipment(s, world.oem.org.id, {**doc, "lots": [{"quantity": 5}]})
        assert bad.value.field == "lots[0].code"
        with pytest.raises(Forbidden):
            receive_shipment(s, world.a.org.id, doc)  # B does not supply supplier A
        kept = receive_shipment(s, world.oem.org.id, doc)
        assert receive_shipment(s, world.oem.org.id, doc).id == kept.id  # a retry
    with store.session(system_caller(world.oem.org), read_only=True) as s:
        assert s.shipments.get(kept.id).lot_of_serials() == {"B1": "sup-b-L1"}
    with store.session(system_caller(world.b.org), read_only=True) as s:
        assert lots_shipped_to(s, world.oem.org.id) == {"sup-b-L1": ["B1"]}
    with store.session(system_caller(world.a.org), read_only=True) as s:
        assert lots_shipped_to(s, world.oem.org.id) == {"sup-a-L1": ["S1", "S2"]}
        with pytest.raises(NotFound):
            s.shipments.get(kept.id)
