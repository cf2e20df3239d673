"""Bounded reads of a scoped repository (oldest, newest, count): ORDER BY … LIMIT on the
caller's own rows only, in the same order as ``own_between``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dure.domain.parts import PartNumber
from dure.domain.records import ProcessRecord
from dure.errors import InvalidInput
from dure.services.platform.accounts import create_org, system_caller
from dure.store.session import Store

T0 = datetime(2026, 11, 3, 8, 0, tzinfo=UTC)


def _org_with_records(store: Store, slug: str, n: int, offset: int = 0):  # type: ignore[no-untyped-def]
    with store.system() as s:
        org = create_org(s, slug.title(), "supplier", slug)
    caller = system_caller(org)
    with store.session(caller) as s:
        part = s.parts.add(PartNumber(org_id=org.id, number="P-1", name="pin"))
        other = s.parts.add(PartNumber(org_id=org.id, number="P-2", name="nut"))
        s.process_records.add_new(
            [
                ProcessRecord(
                    org_id=org.id,
                    part_id=part.id if i % 4 else other.id,
                    # two records share each moment: the id breaks the tie
                    recorded_at=T0 + timedelta(seconds=offset + i // 2),
                    values={"x": float(i)},
                    serial=f"S{i}",
                )
                for i in range(n)
            ]
        )
    return caller, part.id


def test_oldest_newest_and_count_read_the_callers_own_rows_in_order(store: Store) -> None:
    caller, part = _org_with_records(store, "mine-co", 400)
    _org_with_records(store, "theirs-co", 400, offset=-100)  # older and newer rows of another org
    with store.session(caller, read_only=True) as s:
        repo = s.process_records
        every = repo.own_between(None, None, part_id=part)
        assert len(every) == 300 and repo.own_count(part_id=part) == 300
        assert repo.own_count() == 400  # both parts, never the other organisation's
        assert repo.own_oldest(25, part_id=part) == every[:25]
        assert repo.own_newest(25, part_id=part) == every[-25:]
        assert repo.own_newest(1000, part_id=part) == every
        cut = T0 + timedelta(seconds=100)
        before = [r for r in every if r.recorded_at < cut]
        after = [r for r in every if r.recorded_at >= cut]
        assert repo.own_newest(10, end=cut, part_id=part) == before[-10:]
        assert repo.own_oldest(10, start=cut, part_id=part) == after[:10]
        assert repo.own_newest(10, start=cut, part_id=part) == after[-10:]
        assert repo.own_count(cut, None, part_id=part) == len(after)
        assert {r.org_id for r in repo.own_oldest(1000)} == {caller.org_id}


def test_a_limit_below_one_or_an_unknown_filter_is_refused_naming_the_field(store: Store) -> None:
    caller, part = _org_with_records(store, "mine-co", 10)
    with store.session(caller, read_only=True) as s:
        with pytest.raises(InvalidInput) as bad:
            s.process_records.own_newest(0, part_id=part)
        assert bad.value.field == "limit"
        with pytest.raises(InvalidInput) as bad:
            s.process_records.own_count(colour="red")
        assert bad.value.field == "colour"
