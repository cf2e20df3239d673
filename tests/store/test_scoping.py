"""Tenant scoping in the repositories: own rows, grants, audit of shared reads."""

from __future__ import annotations

import pytest

from dure.domain.plant import Line
from dure.domain.users import Caller, Role
from dure.errors import Forbidden, InvalidInput, NotFound
from dure.store.session import Store
from tests.factories import World


def caller(world_company, role: Role = Role.ADMIN) -> Caller:  # type: ignore[no-untyped-def]
    return Caller(
        org_id=world_company.org.id, user_id=None, role=role, org_kind=world_company.org.kind
    )


def test_supplier_cannot_get_or_list_another_suppliers_rows(store: Store, world: World) -> None:
    with store.session(caller(world.b)) as s:
        for repo, key in (
            (s.lines, "line"),
            (s.parts, "part"),
            (s.inspections, "inspection"),
            (s.process_records, "process_record"),
            (s.channels, "channel"),
        ):
            with pytest.raises(NotFound):
                repo.get(world.a.ids[key])
            assert world.a.ids[key] not in {i.id for i in repo.list().items}


def test_writes_cannot_point_into_another_organisation(store: Store, world: World) -> None:
    with store.session(caller(world.b)) as s:
        with pytest.raises(InvalidInput, match="site_id"):
            s.lines.add(Line(org_id=world.a.org.id, site_id=world.a.ids["site"], name="sneaky"))


def test_org_id_of_new_rows_is_forced_to_the_callers(store: Store, world: World) -> None:
    with store.session(caller(world.b)) as s:
        line = s.lines.add(Line(org_id=world.a.org.id, site_id=world.b.ids["site"], name="mine"))
    assert line.org_id == world.b.org.id


def test_oem_sees_granted_inspections_and_the_read_is_audited(store: Store, world: World) -> None:
    with store.session(caller(world.oem)) as s:
        seen = {i.id for i in s.inspections.list().items}
    assert world.a.ids["inspection"] in seen  # granted for A's part
    assert world.b.ids["inspection"] not in seen  # B's grant was revoked
    with store.session(caller(world.a)) as s:
        events = s.audit_events.list(action="read_shared").items
    assert any(
        world.a.ids["inspection"] in e.detail["ids"]
        and e.actor_org_id == world.oem.org.id
        and e.grant_id == world.a.ids["grant"]
        for e in events
    )


def test_grant_covers_only_its_scope(store: Store, world: World) -> None:
    with store.session(caller(world.oem)) as s:
        with pytest.raises(NotFound):
            s.process_records.get(world.a.ids["process_record"])
        with pytest.raises(NotFound):
            s.lines.get(world.a.ids["line"])


def test_revoking_a_grant_stops_access_at_once(store: Store, world: World) -> None:
    with store.session(caller(world.a)) as s:
        s.grants.revoke(world.a.ids["grant"])
    with store.session(caller(world.oem)) as s:
        with pytest.raises(NotFound):
            s.inspections.get(world.a.ids["inspection"])


def test_roles_limit_writes(store: Store, world: World) -> None:
    with store.session(caller(world.a, Role.VIEWER)) as s:
        with pytest.raises(Forbidden, match="engineer"):
            s.parts.update_fields(world.a.ids["part"], name="renamed")


def test_failed_transaction_leaves_nothing_behind(store: Store, world: World) -> None:
    with pytest.raises(InvalidInput):
        with store.session(caller(world.a)) as s:
            s.lines.add(Line(org_id=world.a.org.id, site_id=world.a.ids["site"], name="half"))
            s.lines.add(Line(org_id=world.a.org.id, site_id="nope", name="bad"))
    with store.session(caller(world.a)) as s:
        assert "half" not in {line.name for line in s.lines.list().items}


def test_supplier_inherits_the_oem_taxonomy_but_not_a_peers(store: Store, world: World) -> None:
    with store.session(caller(world.a)) as s:
        codes = {d.code for d in s.defect_types.list().items}
    assert "scratch" in codes and "sup-a-burr" in codes and "sup-b-burr" not in codes


def test_the_use_case_queries_see_only_the_callers_own_rows(store: Store, world: World) -> None:
    """Each query a service asks the store for, run as supplier B over A's ids: nothing of
    A's comes back, and A's ids are refused as references."""
    from datetime import UTC, datetime

    from dure.domain.grants import GrantScope
    from dure.domain.records import ProcessRecord

    a, b = world.a.ids, world.b.ids
    with store.session(caller(world.b)) as s:
        for repo in (s.inspections, s.process_records, s.parts, s.lots, s.assets, s.channels):
            own = repo.list_own()
            assert own and {row.org_id for row in own} == {world.b.org.id}
        assert {r.id for r in s.inspections.own_between(None, None)} == {b["inspection"]}
        assert s.inspections.of_line(a["line"], datetime(2000, 1, 1, tzinfo=UTC)) == []
        assert [r.id for r in s.inspections.of_line(b["line"], datetime(2000, 1, 1, tzinfo=UTC))]
        with pytest.raises(InvalidInput, match="part_id"):
            s.parts.own(a["part"], "part_id")
        assert s.parts.own(b["part"], "part_id").id == b["part"]
        with pytest.raises(InvalidInput, match="lot_id"):
            s.inspections.check_placement(b["part"], a["lot"], None)
        assert s.parts.own_by_number("sup-a-P1") is None
        assert s.users.own_by_email("admin@sup-a.test") is None
        assert s.grants.given_in_force(world.oem.org.id, GrantScope.INSPECTION_RECORDS) == []
        assert s.alerts.open_subjects() == [b["channel"]]
        assert s.model_versions.next_version("panel-inspector") == 2
        assert not s.packages.has("anything") and s.packages.revoked_ids() == set()
        with pytest.raises(InvalidInput, match="part_id"):
            s.process_records.add_new(
                [
                    ProcessRecord(
                        org_id=world.b.org.id,
                        part_id=a["part"],
                        recorded_at=datetime.now(UTC),
                        values={},
                    )
                ]
            )
    with store.session(caller(world.a)) as s:
        grants = s.grants.given_in_force(world.oem.org.id, GrantScope.INSPECTION_RECORDS)
        assert [g.id for g in grants] == [a["grant"]]
    with store.session(caller(world.oem)) as s:
        held = s.grants.held_in_force(GrantScope.INSPECTION_RECORDS)
        assert [g.grantor_org_id for g in held] == [world.a.org.id]  # B's was revoked
        items, waiting = s.inspections.awaiting_review()
        assert items == [] and waiting == 0  # a grant to read is not a queue to review


def test_process_records_added_twice_are_stored_once(store: Store, world: World) -> None:
    from datetime import UTC, datetime

    from dure.domain.records import ProcessRecord

    at = datetime(2026, 2, 1, 8, tzinfo=UTC)

    def record() -> ProcessRecord:
        return ProcessRecord(
            org_id=world.b.org.id,
            part_id=world.b.ids["part"],
            recorded_at=at,
            serial="X1",
            values={"force": 1.0},
        )

    with store.session(caller(world.b, Role.OPERATOR)) as s:
        assert s.process_records.add_new([record(), record()]) == 1
        assert s.process_records.add_new([record()]) == 0


def test_the_install_itself_has_no_tenant_session(store: Store) -> None:
    with pytest.raises(TypeError, match="system"):
        with store.session(None):  # type: ignore[arg-type]
            pass
    with store.system() as system:
        assert system.identities.org_kind("no-such-org") is None
