"""Which traced lots the Traceability page preselects for a root-cause request, and what
the request asks (pure: no store)."""

from __future__ import annotations

from dure.domain.root_cause import FoundAt
from dure.domain.traceability import LotTrace
from dure.services.traceability.asking import MAX_SUGGESTED, question_for, suggested_lots
from dure.services.traceability.trace import SupplierTrace


def _trace(*lots: tuple[str, int, dict[str, int]]) -> SupplierTrace:
    return SupplierTrace(
        "sup",
        [
            LotTrace(
                supplier_org_id="sup",
                lot_code=code,
                defects=n,
                by_stage=stages,
                by_type={"crack": n},
            )
            for code, n, stages in lots
        ],
    )


def test_the_lots_that_stand_above_the_rest_are_preselected_in_rank_order() -> None:
    trace = _trace(
        ("L9", 6, {"assembly": 6}),
        ("L8", 3, {"assembly": 3}),
        ("L7", 2, {"assembly": 2}),  # below half the top lot's
        ("L1", 1, {"incoming": 1}),
    )
    assert suggested_lots(trace) == ["L9", "L8"]
    assert suggested_lots(_trace(("L1", 1, {}), ("L2", 1, {}))) == ["L1"]  # top lot alone
    assert suggested_lots(_trace(("L1", 2, {}), ("L2", 1, {}))) == ["L1"]
    assert suggested_lots(SupplierTrace("sup")) == []
    many = _trace(*[(f"L{k}", 4, {}) for k in range(MAX_SUGGESTED + 3)])
    assert suggested_lots(many) == [f"L{k}" for k in range(MAX_SUGGESTED)]


def test_the_question_takes_the_type_and_stage_most_defects_have() -> None:
    trace = _trace(("L9", 3, {"field_return": 2, "assembly": 1}), ("L8", 1, {"incoming": 1}))
    assert question_for(trace.lots) == {"defect_type": "crack", "found_at": FoundAt.FIELD}
    assert question_for(trace.lots[1:]) == {"defect_type": "crack", "found_at": FoundAt.INCOMING}
    assert question_for([]) == {"defect_type": None, "found_at": None}
