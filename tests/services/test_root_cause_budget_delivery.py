"""A ROOT_CAUSE grant's budget (N requests per rolling 24 h, repeats answered from the
kept answer) and the durable delivery of answers approved after review (queued while the
OEM's install cannot be reached, retried by the outbox lane, kept once by the OEM, stopped
by a revoked grant). Time is moved by rewriting stored times, never by sleeping."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from dure.collab.outbound import OutboundPolicy
from dure.domain.collab import Partner
from dure.domain.ids import utcnow
from dure.domain.records import ProcessRecord
from dure.domain.root_cause import DeliveryState, RootCauseStatus
from dure.domain.users import Role
from dure.ports import free_port
from dure.services.collaboration import root_cause
from dure.services.collaboration.grants import revoke_grant
from dure.services.collaboration.root_cause_views import root_cause_view
from dure.services.platform.accounts import system_caller
from dure.store import tables as t
from dure.store.session import Store
from tests.factories import World
from tests.services.root_cause_world import HOT, LOTS, RootCauseWorld, build_root_cause_world


@pytest.fixture
def rc(store: Store, world: World, tmp_path: Path) -> RootCauseWorld:
    return build_root_cause_world(store, world, tmp_path)


def _ask(rc: RootCauseWorld, **fields: object):  # type: ignore[no-untyped-def]
    return root_cause.ask(rc.ctx, rc.caller("oem", Role.ENGINEER), rc.world.a.org.id, fields)


def _events(rc: RootCauseWorld, company: str) -> list[tuple[str, str, dict]]:
    org = getattr(rc.world, company).org
    with rc.ctx.store.session(system_caller(org)) as s:
        return [(e.action, e.resource, e.detail) for e in s.audit_events.list_all()]


def _supplier_rows(rc: RootCauseWorld):  # type: ignore[no-untyped-def]
    with rc.ctx.store.session(system_caller(rc.world.a.org)) as s:
        return s.root_cause.list_all()


def _budget(rc: RootCauseWorld) -> dict:
    with rc.ctx.store.session(rc.caller("a", Role.ADMIN)) as s:
        view = root_cause_view(s, rc.ctx.root_cause_requests_per_day)
    (grant,) = view["grants_given"]
    return grant["budget"]


def _age_rows(rc: RootCauseWorld, hours: float) -> None:
    """Every stored root-cause row made ``hours`` earlier (time moves, nobody sleeps)."""
    with rc.ctx.store.engine.begin() as conn:
        for row in conn.execute(t.root_cause_requests.select()).all():
            conn.execute(
                update(t.root_cause_requests)
                .where(t.root_cause_requests.c.id == row.id)
                .values(created_at=row.created_at - timedelta(hours=hours))
            )


def test_budget_used_up_refused_and_audited_on_both_sides(rc: RootCauseWorld) -> None:
    rc.ctx.root_cause_requests_per_day = 2
    assert _ask(rc, lots=[LOTS[0]]).status is RootCauseStatus.ANSWERED
    assert _ask(rc, lots=[LOTS[1]]).status is RootCauseStatus.ANSWERED
    assert _budget(rc)["used"] == 2 and _budget(rc)["left"] == 0
    over = _ask(rc, lots=[LOTS[2]])
    assert over.status is RootCauseStatus.REFUSED and over.answer_text is None
    assert "budget of 2 requests per 24 h used; next at " in over.reason
    assert over.reason.endswith(" UTC")
    supplier_refusals = [
        d["reason"] for a, r, d in _events(rc, "a") if a == "refuse" and r == "root_cause_request"
    ]
    assert any("budget of 2 requests" in reason for reason in supplier_refusals)
    oem_refusals = [d["reason"] for a, _, d in _events(rc, "oem") if a == "refused"]
    assert any("budget of 2 requests" in reason for reason in oem_refusals)
    # a refusal for the budget spends nothing: still two used, and the time of the next
    refused = [r for r in _supplier_rows(rc) if r.status is RootCauseStatus.REFUSED]
    assert len(refused) == 1 and not refused[0].budget_spent
    budget = _budget(rc)
    assert budget["used"] == 2 and budget["next_at"] is not None


def test_budget_comes_back_after_24_hours(rc: RootCauseWorld) -> None:
    rc.ctx.root_cause_requests_per_day = 1
    assert _ask(rc, lots=[LOTS[0]]).status is RootCauseStatus.ANSWERED
    assert _ask(rc, lots=[LOTS[1]]).status is RootCauseStatus.REFUSED
    _age_rows(rc, 23.5)  # still inside the window
    assert _ask(rc, lots=[LOTS[1]]).status is RootCauseStatus.REFUSED
    _age_rows(rc, 1.0)  # the first answer is now 24.5 h old
    assert _budget(rc) == {"limit": 1, "used": 0, "left": 1, "next_at": None}
    again = _ask(rc, lots=[LOTS[1]])
    assert again.status is RootCauseStatus.ANSWERED, again.reason
    assert _budget(rc)["used"] == 1


def test_repeat_is_answered_from_the_kept_answer_without_spending(rc: RootCauseWorld) -> None:
    rc.ctx.root_cause_requests_per_day = 1
    hot = sorted(HOT)[0]
    first = _ask(rc, lots=[hot], defect_type="crack")
    assert first.status is RootCauseStatus.ANSWERED
    # the lot changes in between: a new part is recorded in it
    sup = rc.world.a.org
    with rc.ctx.store.session(system_caller(sup)) as s:
        lot = next(x for x in s.lots.list_all() if x.code == hot)
        s.process_records.add(
            ProcessRecord(
                org_id=sup.id,
                part_id=rc.part_id,
                recorded_at=utcnow(),
                values={"die_temp_C": 90.0, "press_force_kN": 700.0},
                lot_id=lot.id,
                serial="SN-NEW-PART",
            )
        )
    # the same question again (found elsewhere, another note): the kept answer, unchanged
    repeat = _ask(rc, lots=[hot], defect_type="crack", found_at="field", note="again")
    assert repeat.status is RootCauseStatus.ANSWERED
    kept, again = json.loads(first.answer_text), json.loads(repeat.answer_text)
    assert again["request_id"] == repeat.request_id != first.request_id
    assert {**again, "request_id": None} == {**kept, "request_id": None}
    assert again["lots"][0]["parts"] == kept["lots"][0]["parts"]  # the new part is not told
    rows = {r.request_id: r for r in _supplier_rows(rc)}
    assert rows[repeat.request_id].repeat_of == rows[first.request_id].id
    assert not rows[repeat.request_id].budget_spent
    assert _budget(rc)["used"] == 1
    # another question is computed, and the budget of one is used: refused
    other = _ask(rc, lots=[hot], defect_type="dent")
    assert other.status is RootCauseStatus.REFUSED and "budget of 1 requests" in other.reason


# ---- delivery of answers approved after review ----------------------------------------
def _unreachable_oem(rc: RootCauseWorld) -> str:
    """The supplier reaches the OEM as another install's organisation, at an address where
    nothing listens (the OEM's install is down); returns that partner row's id."""
    rc.ctx.outbound = OutboundPolicy(allow_private=True)
    sup, oem = rc.world.a.org, rc.world.oem.org
    rc.ctx.own_key(sup.id)
    with rc.ctx.store.session(system_caller(sup)) as s:
        partner = s.partners.add(
            Partner(
                org_id=sup.id,
                partner_org_id=oem.id,
                url=f"http://127.0.0.1:{free_port()}",
                public_pem="-",
                fingerprint="-",
                inbound_token_hash="-",
                inbound_expires_at=utcnow() + timedelta(days=1),
                outbound_token="token",
            )
        )
    return partner.id


def _oem_comes_back(rc: RootCauseWorld, partner_id: str) -> None:
    """The OEM is reachable again (here: an organisation of this install once more)."""
    with rc.ctx.store.engine.begin() as conn:
        conn.execute(t.partners.delete().where(t.partners.c.id == partner_id))


def _make_due(rc: RootCauseWorld) -> None:
    with rc.ctx.store.engine.begin() as conn:
        conn.execute(
            update(t.root_cause_requests)
            .where(t.root_cause_requests.c.delivery == DeliveryState.PENDING.value)
            .values(delivery_next_at=utcnow() - timedelta(seconds=1))
        )


def _held_for_review(rc: RootCauseWorld):  # type: ignore[no-untyped-def]
    admin = rc.caller("a", Role.ADMIN)
    root_cause.set_review(rc.ctx, admin, rc.grant_id, True)
    asked = _ask(rc, lots=[sorted(HOT)[0]], defect_type="crack")
    (pending,) = [r for r in _supplier_rows(rc) if r.status is RootCauseStatus.PENDING_REVIEW]
    return admin, asked, pending


def _oem_row(rc: RootCauseWorld, row_id: str):  # type: ignore[no-untyped-def]
    with rc.ctx.store.session(rc.caller("oem", Role.ENGINEER)) as s:
        return s.root_cause.get(row_id)


def test_approved_while_oem_down_is_queued_then_delivered_once(rc: RootCauseWorld) -> None:
    admin, asked, pending = _held_for_review(rc)
    partner_id = _unreachable_oem(rc)
    decided = root_cause.decide(rc.ctx, admin, pending.id, True)
    # the decision is kept; the delivery waits, saying why and when it tries again
    assert decided.status is RootCauseStatus.ANSWERED
    assert decided.delivery is DeliveryState.PENDING and decided.delivery_attempts == 1
    assert "did not answer" in (decided.delivery_error or "")
    assert decided.delivery_failing_since is not None
    gap = decided.delivery_next_at - utcnow()
    assert timedelta(seconds=30) < gap <= timedelta(minutes=1)
    assert _oem_row(rc, asked.id).status is RootCauseStatus.WAITING
    with rc.ctx.store.session(admin) as s:
        (shown,) = [r for r in root_cause_view(s)["shared"] if r["id"] == pending.id]
    assert shown["delivery"]["state"] == "pending" and shown["delivery"]["failing_since"]
    # not due yet: the outbox lane leaves it alone
    assert root_cause.deliver_due(rc.ctx) == 0
    # due, still down: the wait doubles
    _make_due(rc)
    assert root_cause.deliver_due(rc.ctx) == 0
    with rc.ctx.store.session(admin) as s:
        again = s.root_cause.get(pending.id)
    assert again.delivery_attempts == 2
    assert timedelta(seconds=90) < again.delivery_next_at - utcnow() <= timedelta(minutes=2)
    # the OEM is back: the next round delivers it, and only once
    _oem_comes_back(rc, partner_id)
    _make_due(rc)
    assert root_cause.deliver_due(rc.ctx) == 1
    _make_due(rc)
    assert root_cause.deliver_due(rc.ctx) == 0
    got = _oem_row(rc, asked.id)
    assert got.status is RootCauseStatus.ANSWERED and got.answer_text == pending.answer_text
    with rc.ctx.store.session(admin) as s:
        done = s.root_cause.get(pending.id)
    assert done.delivery is DeliveryState.DELIVERED and done.delivered_at is not None
    received = [1 for a, r, _ in _events(rc, "oem") if (a, r) == ("receive", "root_cause_answer")]
    assert received == [1]
    sent = [1 for a, r, _ in _events(rc, "a") if (a, r) == ("send", "root_cause_answer")]
    assert sent == [1]


def test_a_redelivered_answer_is_kept_once_and_never_regresses(rc: RootCauseWorld) -> None:
    admin, asked, pending = _held_for_review(rc)
    root_cause.decide(rc.ctx, admin, pending.id, True)
    first = _oem_row(rc, asked.id)
    supplier = rc.caller("a", Role.ENGINEER)
    again = root_cause.receive_answer(rc.ctx, supplier, rc.world.oem.org.id, pending.answer_text)
    assert again.status is RootCauseStatus.ANSWERED and again.answered_at == first.answered_at
    received = [1 for a, r, _ in _events(rc, "oem") if (a, r) == ("receive", "root_cause_answer")]
    assert received == [1]
    declined = json.dumps({"request_id": asked.request_id, "status": "declined", "reason": "x"})
    with pytest.raises(Exception, match="already"):
        root_cause.receive_answer(rc.ctx, supplier, rc.world.oem.org.id, declined)
    assert _oem_row(rc, asked.id).status is RootCauseStatus.ANSWERED


def test_revoked_grant_stops_a_pending_delivery(rc: RootCauseWorld) -> None:
    admin, asked, pending = _held_for_review(rc)
    partner_id = _unreachable_oem(rc)
    root_cause.decide(rc.ctx, admin, pending.id, True)
    revoke_grant(rc.ctx, admin, rc.grant_id)
    _oem_comes_back(rc, partner_id)
    _make_due(rc)
    assert root_cause.deliver_due(rc.ctx) == 0
    with rc.ctx.store.session(admin) as s:
        stopped = s.root_cause.get(pending.id)
    assert stopped.delivery is DeliveryState.STOPPED and stopped.delivery_next_at is None
    assert _oem_row(rc, asked.id).status is RootCauseStatus.WAITING
    stops = [d for a, r, d in _events(rc, "a") if (a, r) == ("stop_delivery", "root_cause_answer")]
    assert stops and "revoked" in stops[0]["reason"]
    _make_due(rc)
    assert root_cause.deliver_due(rc.ctx) == 0  # stopped for good
