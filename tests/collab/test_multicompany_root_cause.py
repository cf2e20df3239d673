"""A root-cause round between two installs over real HTTP, every crossing byte recorded.

Hanbit (the OEM) and Hanul (the supplier) are separate `dure up` processes with their own
stores; each reaches the other only through a recording relay. Hanul's die runs hot in one
lot; Hanbit asks about it and learns the shift, the Cpk and the inspection outcome — and
the byte audit shows that nothing else crossed: no record id, lot id, serial or per-part
value of Hanul's process records. A lot below k parts and a revoked grant are refused and
audited; in review mode the answer leaves only when Hanul's admin approves it.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import numpy as np
import pytest

from dure.bench.testbed import Install, _serve, _setup, _wait_up, stop_installs
from dure.ports import free_port

pytestmark = [pytest.mark.multicompany, pytest.mark.slow]

PART = ("HN-DOOR-01", "Refrigerator door outer panel")
HOT_LOT, SMALL_LOT = "HN-L05", "HN-L99"


def _process_csv(rng: np.random.Generator) -> tuple[bytes, list[str], list[str]]:
    """Six lots of eight parts (the last hot) and a lot of three; the CSV, its serials and
    every value as written."""
    start = datetime(2026, 11, 2, 6, tzinfo=UTC)
    rows, serials, values = [], [], []
    lots = [(f"HN-L{k:02d}", 8) for k in range(6)] + [(SMALL_LOT, 3)]
    for k, (lot, n) in enumerate(lots):
        for i in range(n):
            die = rng.normal(66 if lot == HOT_LOT else 58, 1.5)
            force = rng.normal(820, 8)
            serial = f"HN-SN-{k:02d}{i:03d}"
            at = start + timedelta(hours=k * 8, minutes=15 * i)
            cells = [f"{die:.2f}", f"{force:.1f}"]
            rows.append(f"{PART[0]},{at.isoformat()},{lot},{serial},{','.join(cells)}")
            serials.append(serial)
            values += cells
    head = "part,time,lot,serial,die_temp_C,press_force_kN\n"
    return (head + "\n".join(rows) + "\n").encode(), serials, values


@pytest.fixture(scope="module")
def installs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Install, Install]]:
    out = tmp_path_factory.mktemp("rc-installs")
    oem = Install("hanbit", "Hanbit Appliances", "oem", out / "hanbit", free_port(), free_port())
    sup = Install("hanul", "Hanul Stamping", "supplier", out / "hanul", free_port(), free_port())
    try:
        for install in (oem, sup):
            _setup(install)
            _serve(install, {}, out)
        for install in (oem, sup):
            _wait_up(install)
        yield oem, sup
    finally:
        stop_installs([oem, sup])


def _ask(oem: Install, sup: Install, lots: list[str], **extra: object) -> dict:
    body = {"supplier_org_id": sup.org_id, "lots": lots, "defect_type": "crack", **extra}
    return oem.call("POST", "/api/root-cause/requests", json=body)


def _db_ids(sup: Install) -> list[str]:
    with sqlite3.connect(sup.home / "dure.sqlite") as conn:
        ids = [r[0] for r in conn.execute("select id from process_records")]
        ids += [r[0] for r in conn.execute("select id from lots")]
        ids += [r[0] for r in conn.execute("select id from part_numbers")]
    return ids


def test_root_cause_round_between_installs_crosses_only_aggregates(
    installs: tuple[Install, Install],
) -> None:
    oem, sup = installs
    csv, serials, values = _process_csv(np.random.default_rng(11))
    sup.part_id = sup.call("POST", "/api/parts", json={"number": PART[0], "name": PART[1]})["id"]
    for k in [*range(6), 99]:
        sup.call("POST", "/api/lots", json={"part_id": sup.part_id, "code": f"HN-L{k:02d}"})
    sup.call(
        "PUT",
        f"/api/parts/{sup.part_id}/process-specs/die_temp_C",
        json={"lower": 46.0, "upper": 70.0},
    )
    schema = {"parameters": {"die_temp_C": {"unit": "°C"}, "press_force_kN": {"unit": "kN"}}}
    sup.call(
        "POST",
        "/api/imports/process-records",
        files={"file": ("process.csv", csv, "text/csv")},
        data={"schema": json.dumps(schema)},
    )
    invitation = oem.call("POST", "/api/partners/invitations", json={})
    sup.call("POST", "/api/partners", json={"invitation": invitation["invitation"]})
    grant = sup.call(
        "POST", "/api/grants", json={"grantee_org_id": oem.org_id, "scope": "root_cause"}
    )

    # --- an answer at once: the hot lot is traced to the die temperature ------------------
    row = _ask(oem, sup, [HOT_LOT], found_at="assembly")
    assert row["status"] == "answered", row
    answer = json.loads(row["answer_text"])
    (lot,) = answer["lots"]
    assert lot["lot"] == HOT_LOT and lot["parts"] == 8
    assert lot["parameters"][0]["name"] == "die_temp_C"
    assert lot["parameters"][0]["shift_sigma"] > 2 and lot["parameters"][0]["cpk"] < 1

    # --- fewer than k parts: refused, and audited at the supplier's -------------------------
    small = _ask(oem, sup, [SMALL_LOT])
    assert small["status"] == "refused" and "fewer than 5 parts" in small["reason"]
    assert small["answer_text"] is None

    # --- review mode: nothing leaves until Hanul's admin approves --------------------------
    sup.call(
        "PUT", f"/api/grants/{grant['id']}/review-before-send", json={"review_before_send": True}
    )
    held = _ask(oem, sup, [HOT_LOT, "HN-L00"])
    assert held["status"] == "waiting"
    shared = sup.call("GET", "/api/dashboard/root-cause")
    assert shared["pending_review"] == 1
    pending = next(r for r in shared["shared"] if r["status"] == "pending_review")
    sup.call("POST", f"/api/root-cause/requests/{pending['id']}/approve")
    traced = {r["request_id"]: r for r in oem.call("GET", "/api/dashboard/root-cause")["traced"]}
    got = traced[held["request_id"]]
    assert got["status"] == "answered" and got["answer"] == json.loads(pending["answer_text"])
    assert [f["lot"] for f in got["findings"]] == [HOT_LOT, "HN-L00"]

    # --- a revoked grant: refused, and audited --------------------------------------------
    sup.call("DELETE", f"/api/grants/{grant['id']}")
    revoked = _ask(oem, sup, [HOT_LOT])
    assert revoked["status"] == "refused" and "ROOT_CAUSE" in revoked["reason"]

    # --- an unsigned request never reaches the computation --------------------------------
    r = httpx.post(
        f"http://127.0.0.1:{sup.public_port}/peer/v1/root-cause-requests",
        json={"request_id": "x" * 8, "lots": [HOT_LOT]},
    )
    assert r.status_code == 401

    # --- both sides audited ----------------------------------------------------------------
    events = sup.call("GET", "/api/audit-events?limit=500")["items"]
    sup_seen = {(e["action"], e["resource"]) for e in events}
    assert {("receive", "root_cause_request"), ("send", "root_cause_answer")} <= sup_seen
    refusals = [e["detail"].get("reason", "") for e in events if e["action"] == "refuse"]
    assert any("fewer than 5 parts" in r for r in refusals)
    assert any("ROOT_CAUSE" in r for r in refusals)
    oem_seen = {
        (e["action"], e["resource"])
        for e in oem.call("GET", "/api/audit-events?limit=500")["items"]
    }
    assert {("send", "root_cause_request"), ("receive", "root_cause_answer")} <= oem_seen

    # --- the byte audit of everything that crossed -----------------------------------------
    assert oem.tap is not None and sup.tap is not None
    taps = (oem.tap.tap, sup.tap.tap)
    crossed = b"".join(t.outbound() + t.inbound() for t in taps)
    assert b"/peer/v1/root-cause-requests" in sup.tap.tap.outbound()
    assert b"/peer/v1/root-cause-answers" in oem.tap.tap.outbound()  # the approved answer
    for ident in _db_ids(sup):
        assert ident.encode() not in crossed, f"id {ident} of Hanul's store crossed"
    for serial in serials:
        assert serial.encode() not in crossed, f"serial {serial} crossed"
    numbers = set(re.findall(rb"\d+\.\d+", crossed))
    leaked = [v for v in values if v.encode() in numbers]
    assert leaked == [], f"per-part values crossed: {leaked[:5]}"
    # what Hanul lists as shared is exactly what left, byte for byte
    for item in sup.call("GET", "/api/dashboard/root-cause")["shared"]:
        if item["status"] == "answered":
            assert item["answer_text"].encode() in crossed
    # and nothing but the agreed aggregates is in an answer
    agreed = {"request_id", "status", "min_group", "lots", "lots_not_found"}
    agreed |= {"serials_not_found", "computed_at"}
    assert set(answer) == agreed
    assert set(lot) == {
        "lot",
        "made_on",
        "part_number",
        "parts",
        "parameters",
        "top_causes",
        "inspection",
    }
    for parameter in lot["parameters"]:
        assert set(parameter) == {"name", "unit", "shift_sigma", "normal_from", "cpk"}
