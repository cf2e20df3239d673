"""The demo's traceability story: Hanbit's cracks point to real Hanul lots, late and hot."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from dure.services.demo.world import build_demo
from dure.services.platform.accounts import system_caller
from dure.services.traceability.asking import suggested_lots
from dure.services.traceability.trace import trace_defects
from dure.settings import Settings
from dure.store.session import Store

END = datetime(2026, 11, 1, tzinfo=UTC)


def test_hanbit_cracks_trace_to_hanul_lots_with_process_records(
    settings: Settings, store: Store
) -> None:
    summary = build_demo(
        store, settings.home, seed=7, end=END, history_days=0, images_per_supplier=4
    )
    truth = json.loads(summary.ground_truth_file.read_text())["suppliers"]["hanul"]["traceability"]
    assert len(truth["shipped_lots"]) == 14 and truth["cracked_serials"]
    with store.system() as s:
        hanbit = s.organisations.get_by_slug("hanbit")
        hanul = s.organisations.get_by_slug("hanul")
    with store.session(system_caller(hanbit), read_only=True) as s:
        traces = trace_defects(s, defect_type="crack")
        assert s.process_records.list_own() == []  # no Hanul record reached Hanbit
    assert [t.supplier_org_id for t in traces] == [hanul.id]
    lots = traces[0].lots
    assert sum(t.defects for t in lots) == len(truth["cracked_serials"]) + 2
    late = [t for t in lots if int(t.lot_code[-2:]) >= 23]
    assert sum(t.defects for t in late) > sum(t.defects for t in lots) / 2  # hot lots crack
    # the demo's root-cause request names the lots Hanbit's trace ranks highest, and
    # Hanul's answer puts the die temperature first for each of them
    story = json.loads(summary.ground_truth_file.read_text())["root_cause"]
    assert story["status"] == "answered"
    assert story["lots"] == suggested_lots(traces[0])
    assert story["lots"] == [t.lot_code for t in lots][: len(story["lots"])]
    assert {story["found"][code]["parameter"] for code in story["lots"]} == {"die_temp_C"}
    with store.session(system_caller(hanul), read_only=True) as s:
        for trace in lots:
            lot = s.lots.list_own(code=trace.lot_code)[0]
            records = s.process_records.list_own(lot_id=lot.id)
            assert len(records) >= 5
            assert set(trace.serials) <= {r.serial for r in records}
