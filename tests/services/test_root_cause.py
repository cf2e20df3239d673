"""Root-cause requests inside one install: the supplier answers with aggregates only,
refuses (and audits) small groups and revoked grants, and holds answers for review."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from dure.domain.root_cause import RootCauseSide, RootCauseStatus
from dure.domain.users import Role
from dure.errors import Forbidden, InvalidInput
from dure.services.collaboration import root_cause
from dure.services.collaboration.grants import revoke_grant
from dure.services.collaboration.root_cause_answers import compute_answer
from dure.services.platform.accounts import system_caller
from dure.store.session import Store
from tests.factories import World
from tests.services.root_cause_world import (
    HOT,
    LOOSE,
    LOOSE_DAY,
    PER_LOT,
    SMALL,
    RootCauseWorld,
    build_root_cause_world,
)


@pytest.fixture
def rc(store: Store, world: World, tmp_path: Path) -> RootCauseWorld:
    return build_root_cause_world(store, world, tmp_path)


def _ask(rc: RootCauseWorld, **fields: object):  # type: ignore[no-untyped-def]
    oem = rc.caller("oem", Role.ENGINEER)
    return root_cause.ask(rc.ctx, oem, rc.world.a.org.id, fields)


def _supplier_rows(rc: RootCauseWorld):  # type: ignore[no-untyped-def]
    with rc.ctx.store.session(system_caller(rc.world.a.org)) as s:
        return s.root_cause.list_all()


def _events(rc: RootCauseWorld, company: str) -> list[tuple[str, str, dict]]:
    org = getattr(rc.world, company).org
    with rc.ctx.store.session(system_caller(org)) as s:
        return [(e.action, e.resource, e.detail) for e in s.audit_events.list_all()]


def assert_only_aggregates(text: str, rc: RootCauseWorld) -> None:
    """No record, inspection, lot or part id, no serial and no per-part value in ``text``."""
    data = text.encode()
    for ident in [*rc.record_ids, *rc.inspection_ids, *rc.lot_ids, rc.part_id]:
        assert ident.encode() not in data, ident
    for serials in rc.serials.values():
        for serial in serials:
            assert serial.encode() not in data, serial
    numbers = set(re.findall(rb"-?\d+\.\d+", data))
    for value in rc.values:
        for form in (repr(value), f"{value:.1f}", f"{value:.2f}", f"{value:.3f}"):
            assert form.encode() not in numbers, (value, form)


def test_hot_lot_traced_to_die_temperature_with_aggregates_only(rc: RootCauseWorld) -> None:
    hot = sorted(HOT)[-1]
    row = _ask(rc, lots=[hot, "NO-SUCH-LOT"], defect_type="crack", found_at="assembly")
    assert row.status is RootCauseStatus.ANSWERED and row.side is RootCauseSide.ASKED
    answer = json.loads(row.answer_text)
    assert answer["request_id"] == row.request_id and answer["lots_not_found"] == ["NO-SUCH-LOT"]
    (lot,) = answer["lots"]
    assert lot["lot"] == hot and lot["parts"] == PER_LOT
    top = lot["parameters"][0]
    assert top["name"] == "die_temp_C" and top["shift_sigma"] > 1.5
    assert top["normal_from"] == "history" and top["unit"] == "°C"
    assert top["cpk"] is not None and top["cpk"] < 1.0
    assert lot["top_causes"][0]["parameter"] == "die_temp_C"
    assert lot["inspection"]["inspected"] == PER_LOT
    assert lot["inspection"]["ng"] == lot["inspection"]["defect_types"].get("crack", 0) > 0
    assert_only_aggregates(row.answer_text, rc)
    # the supplier keeps the exact JSON that left, byte for byte
    (sent,) = _supplier_rows(rc)
    assert sent.side is RootCauseSide.ANSWERING and sent.answer_text == row.answer_text
    assert ("send", "root_cause_answer") in [(a, r) for a, r, _ in _events(rc, "a")]
    assert ("receive", "root_cause_request") in [(a, r) for a, r, _ in _events(rc, "a")]
    oem_events = [(a, r) for a, r, _ in _events(rc, "oem")]
    assert ("send", "root_cause_request") in oem_events
    assert ("receive", "root_cause_answer") in oem_events


def test_serials_are_answered_by_their_whole_lot(rc: RootCauseWorld) -> None:
    hot = sorted(HOT)[0]
    row = _ask(rc, serials=rc.serials[hot][:2] + ["SN-UNKNOWN"])
    answer = json.loads(row.answer_text)
    assert [g["lot"] for g in answer["lots"]] == [hot]
    assert answer["lots"][0]["parts"] == PER_LOT and answer["serials_not_found"] == 1
    assert_only_aggregates(row.answer_text, rc)


def test_serials_outside_any_lot_are_answered_by_their_day(rc: RootCauseWorld) -> None:
    row = _ask(rc, serials=rc.serials["loose"][:2])
    (group,) = json.loads(row.answer_text)["lots"]
    assert group["lot"] is None and group["made_on"] == LOOSE_DAY.date().isoformat()
    assert group["parts"] == LOOSE  # the whole day, however few serials were named
    assert_only_aggregates(row.answer_text, rc)


def test_group_below_k_refused_and_audited(rc: RootCauseWorld) -> None:
    row = _ask(rc, lots=[SMALL, sorted(HOT)[0]])
    assert row.status is RootCauseStatus.REFUSED and row.answer_text is None
    assert "fewer than 5 parts" in row.reason
    (kept,) = _supplier_rows(rc)
    assert kept.status is RootCauseStatus.REFUSED and kept.answer_text is None
    refusals = [d for a, r, d in _events(rc, "a") if a == "refuse" and r == "root_cause_request"]
    assert refusals and "fewer than 5 parts" in refusals[0]["reason"]
    assert not [1 for a, r, _ in _events(rc, "a") if r == "root_cause_answer"]


def test_k_is_a_setting_never_below_five(rc: RootCauseWorld) -> None:
    rc.ctx.root_cause_min_group = PER_LOT + 1
    assert _ask(rc, lots=[sorted(HOT)[0]]).status is RootCauseStatus.REFUSED
    with rc.ctx.store.session(system_caller(rc.world.a.org)) as s:
        with pytest.raises(InvalidInput) as err:
            compute_answer(s, [sorted(HOT)[0]], [], min_group=4)
    assert err.value.field == "min_group"


def test_revoked_grant_refused_and_audited(rc: RootCauseWorld) -> None:
    revoke_grant(rc.ctx, rc.caller("a", Role.ADMIN), rc.grant_id)
    row = _ask(rc, lots=[sorted(HOT)[0]])
    assert row.status is RootCauseStatus.REFUSED and "ROOT_CAUSE" in row.reason
    reasons = [d["reason"] for a, r, d in _events(rc, "a") if a == "refuse"]
    assert any("ROOT_CAUSE" in reason for reason in reasons)
    assert [e for e in _events(rc, "oem") if e[0] == "refused"]


def test_review_mode_holds_the_answer_until_approved(rc: RootCauseWorld) -> None:
    admin = rc.caller("a", Role.ADMIN)
    root_cause.set_review(rc.ctx, admin, rc.grant_id, True)
    row = _ask(rc, lots=[sorted(HOT)[0]], defect_type="crack")
    assert row.status is RootCauseStatus.WAITING and row.answer_text is None
    (pending,) = _supplier_rows(rc)
    assert pending.status is RootCauseStatus.PENDING_REVIEW and pending.answer_text
    assert not [1 for a, r, _ in _events(rc, "oem") if r == "root_cause_answer"]
    with pytest.raises(Forbidden):  # an engineer may not approve
        root_cause.decide(rc.ctx, rc.caller("a", Role.ENGINEER), pending.id, True)
    done = root_cause.decide(rc.ctx, admin, pending.id, True)
    assert done.status is RootCauseStatus.ANSWERED and done.decided_by == admin.user_id
    with rc.ctx.store.session(rc.caller("oem", Role.ENGINEER)) as s:
        got = s.root_cause.get(row.id)
    assert got.status is RootCauseStatus.ANSWERED and got.answer_text == pending.answer_text


def test_review_mode_decline_sends_no_figures(rc: RootCauseWorld) -> None:
    admin = rc.caller("a", Role.ADMIN)
    root_cause.set_review(rc.ctx, admin, rc.grant_id, True)
    row = _ask(rc, lots=[sorted(HOT)[0]])
    (pending,) = _supplier_rows(rc)
    root_cause.decide(rc.ctx, admin, pending.id, False)
    with rc.ctx.store.session(rc.caller("oem", Role.ENGINEER)) as s:
        got = s.root_cause.get(row.id)
    assert got.status is RootCauseStatus.DECLINED
    assert set(json.loads(got.answer_text)) == {"request_id", "status", "reason"}


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({}, "lots"),
        ({"lots": ["L1"], "found_at": "moon"}, "found_at"),
        ({"lots": "L1"}, "lots"),
        ({"serials": [""]}, "serials"),
    ],
)
def test_bad_request_names_the_field_and_keeps_nothing(
    rc: RootCauseWorld, fields: dict, field: str
) -> None:
    with pytest.raises(InvalidInput) as err:
        _ask(rc, **fields)
    assert err.value.field == field
    with rc.ctx.store.session(rc.caller("oem", Role.ENGINEER)) as s:
        assert s.root_cause.list_all() == []


def test_only_an_oem_asks_and_only_its_own_suppliers(rc: RootCauseWorld) -> None:
    supplier = rc.caller("a", Role.ENGINEER)
    with pytest.raises(InvalidInput) as err:  # a supplier asking its OEM
        root_cause.ask(rc.ctx, supplier, rc.world.oem.org.id, {"lots": ["L1"]})
    assert err.value.field == "supplier_org_id"
    with rc.ctx.store.session(system_caller(rc.world.oem.org)) as s:
        assert s.root_cause.list_all() == []
    assert _supplier_rows(rc) == []
