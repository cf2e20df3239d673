"""Root-cause budget and delivery between two installs over real HTTP.

Hanul (the supplier) lets Hanbit (the OEM) have two requests computed per 24 hours: a
repeat is answered from the kept answer, a third question is refused with the time of the
next, on both sides. Hanul's admin then approves a reviewed answer while Hanbit's install
cannot be reached: the approval is kept, the delivery queued, and Hanul's outbox lane
delivers it exactly once when Hanbit is back. A grant revoked first stops the delivery.
Time is moved by rewriting Hanul's stored times, never by sleeping.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import numpy as np
import pytest
from sqlalchemy import update

from dure.bench.testbed import Install, _serve, _setup, _wait_up, stop_installs
from dure.bench.wiretap import Wiretap
from dure.domain.ids import utcnow
from dure.ports import free_port
from dure.settings import Settings
from dure.store import tables as t
from dure.store.session import Store
from tests.collab.test_multicompany_root_cause import HOT_LOT, PART, _ask, _process_csv

pytestmark = [pytest.mark.multicompany, pytest.mark.slow]
ANSWERS = b"POST /peer/v1/root-cause-answers"


@pytest.fixture(scope="module")
def installs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Install, Install]]:
    out = tmp_path_factory.mktemp("rc-delivery")
    oem = Install("hanbit", "Hanbit Appliances", "oem", out / "hanbit", free_port(), free_port())
    sup = Install("hanul", "Hanul Stamping", "supplier", out / "hanul", free_port(), free_port())
    try:
        for install in (oem, sup):
            _setup(install)
        _serve(oem, {}, out)
        _serve(sup, {"DURE_ROOT_CAUSE_REQUESTS_PER_DAY": "2"}, out)
        for install in (oem, sup):
            _wait_up(install)
        yield oem, sup
    finally:
        stop_installs([oem, sup])


def _store(install: Install) -> Store:
    return Store.open(Settings(home=install.home), upgrade=False)


def _move_time(sup: Install, hours: float) -> None:
    """Hanul's root-cause rows made ``hours`` earlier, and its pending deliveries due now."""
    store = _store(sup)
    c = t.root_cause_requests.c
    with store.engine.begin() as conn:
        for row in conn.execute(t.root_cause_requests.select()).all():
            conn.execute(
                update(t.root_cause_requests)
                .where(c.id == row.id)
                .values(created_at=row.created_at - timedelta(hours=hours))
            )
        conn.execute(
            update(t.root_cause_requests)
            .where(c.delivery == "pending")
            .values(delivery_next_at=utcnow() - timedelta(seconds=1))
        )
    store.engine.dispose()


def _wait(predicate: Any, what: str, timeout: float = 90) -> Any:
    deadline = time.time() + timeout
    while time.time() < deadline:
        got = predicate()
        if got:
            return got
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def _shared(sup: Install, request_id: str) -> dict:
    rows = sup.call("GET", "/api/dashboard/root-cause")["shared"]
    return next(r for r in rows if r["request_id"] == request_id)


def _traced(oem: Install, request_id: str) -> dict:
    rows = oem.call("GET", "/api/dashboard/root-cause")["traced"]
    return next(r for r in rows if r["request_id"] == request_id)


def _oem_down(oem: Install) -> None:
    assert oem.tap is not None
    oem.tap.stop()  # nothing listens at Hanbit's public address any more


def _oem_up(oem: Install) -> Wiretap:
    oem.tap = Wiretap(oem.slug, oem.public_port, oem.port).start()
    return oem.tap


def test_budget_and_durable_delivery_between_installs(installs: tuple[Install, Install]) -> None:
    oem, sup = installs
    csv, _, _ = _process_csv(np.random.default_rng(11))
    sup.part_id = sup.call("POST", "/api/parts", json={"number": PART[0], "name": PART[1]})["id"]
    for k in [*range(6), 99]:
        sup.call("POST", "/api/lots", json={"part_id": sup.part_id, "code": f"HN-L{k:02d}"})
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
    grant_id = grant.get("grant", grant)["id"]

    # --- the budget: two computed, a repeat free, a third refused with the next time -----
    first = _ask(oem, sup, [HOT_LOT])
    assert first["status"] == "answered", first
    repeat = _ask(oem, sup, [HOT_LOT], found_at="field")
    assert repeat["status"] == "answered"
    kept, again = json.loads(first["answer_text"]), json.loads(repeat["answer_text"])
    assert {**again, "request_id": 0} == {**kept, "request_id": 0}
    assert _ask(oem, sup, ["HN-L00"])["status"] == "answered"
    over = _ask(oem, sup, ["HN-L01"])
    assert over["status"] == "refused"
    assert "budget of 2 requests per 24 h used; next at" in over["reason"], over
    (given,) = sup.call("GET", "/api/dashboard/root-cause")["grants_given"]
    assert given["budget"]["used"] == 2 and given["budget"]["left"] == 0
    refusals = [
        e["detail"].get("reason", "")
        for e in sup.call("GET", "/api/audit-events?limit=500")["items"]
        if e["action"] == "refuse"
    ]
    assert any("budget of 2 requests" in r for r in refusals)
    oem_refused = [
        e
        for e in oem.call("GET", "/api/audit-events?limit=500")["items"]
        if e["action"] == "refused"
    ]
    assert any("budget of 2 requests" in e["detail"].get("reason", "") for e in oem_refused)
    _move_time(sup, 25)  # a day later the budget is back
    (given,) = sup.call("GET", "/api/dashboard/root-cause")["grants_given"]
    assert given["budget"]["used"] == 0

    # --- approved while Hanbit is down: kept, queued, delivered once when it is back ------
    sup.call("PUT", f"/api/grants/{grant_id}/review-before-send", json={"review_before_send": True})
    held = _ask(oem, sup, ["HN-L01"])
    assert held["status"] == "waiting"
    pending = _shared(sup, held["request_id"])
    _oem_down(oem)
    decided = sup.call("POST", f"/api/root-cause/requests/{pending['id']}/approve")
    assert decided["status"] == "answered" and decided["delivery"] == "pending"
    assert decided["delivery_error"] and decided["delivery_attempts"] == 1
    shown = _shared(sup, held["request_id"])["delivery"]
    assert shown["state"] == "pending" and shown["failing_since"] and shown["next_at"]
    tap = _oem_up(oem)
    assert _traced(oem, held["request_id"])["status"] == "waiting"
    _move_time(sup, 0)  # the next try is due now: the outbox lane takes it
    got = _wait(
        lambda: (r := _traced(oem, held["request_id"]))["status"] == "answered" and r,
        "the queued answer to reach Hanbit",
    )
    assert got["answer"] == json.loads(pending["answer_text"])
    delivered = _wait(
        lambda: (d := _shared(sup, held["request_id"])["delivery"])["state"] == "delivered" and d,
        "Hanul to see the answer delivered",
    )
    assert delivered["attempts"] == 2 and delivered["error"] is None
    _move_time(sup, 0)
    assert tap.tap.outbound().count(ANSWERS) == 1
    received = [
        e
        for e in oem.call("GET", "/api/audit-events?limit=500")["items"]
        if e["action"] == "receive" and e["resource"] == "root_cause_answer"
    ]
    assert len([e for e in received if e["resource_id"] == got["id"]]) == 1

    # --- a grant revoked before delivery stops it (audited) -------------------------------
    stopped_ask = _ask(oem, sup, ["HN-L02"])
    row = _shared(sup, stopped_ask["request_id"])
    _oem_down(oem)
    sup.call("POST", f"/api/root-cause/requests/{row['id']}/approve")
    tap = _oem_up(oem)
    sup.call("DELETE", f"/api/grants/{grant_id}")
    _move_time(sup, 0)
    _wait(
        lambda: _shared(sup, stopped_ask["request_id"])["delivery"]["state"] == "stopped",
        "the delivery to stop",
    )
    assert _traced(oem, stopped_ask["request_id"])["status"] == "waiting"
    assert tap.tap.outbound().count(ANSWERS) == 0
    stops = [
        e
        for e in sup.call("GET", "/api/audit-events?limit=500")["items"]
        if e["action"] == "stop_delivery"
    ]
    assert stops and "revoked" in stops[0]["detail"]["reason"]
