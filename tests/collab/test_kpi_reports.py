"""KPI report figures on a small, fully known set of inspections and process records."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from dure.domain.model_versions import ModelVersion
from dure.domain.parts import PartNumber
from dure.domain.records import InspectionRecord, ProcessRecord, ReviewDecision, Verdict
from dure.errors import Forbidden, InvalidInput, NotFound
from dure.services.collaboration.kpi_reports import DRIFT_FLAG, compute_report, drift_psi
from dure.services.inspection.records import store_blob
from dure.services.platform.accounts import create_org, system_caller
from dure.store.session import Store
from tests.factories import png_bytes

START = datetime(2026, 11, 1, tzinfo=UTC)
END = datetime(2026, 12, 1, tzinfo=UTC)
DECILES = [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0]


@pytest.fixture
def supplier(store: Store):  # type: ignore[no-untyped-def]
    """A supplier with one part, one model (threshold 2.0) and ten inspections of it."""
    with store.system() as s:
        org = create_org(s, "Daesung", "supplier", "daesung")
        other = create_org(s, "Mirae", "supplier", "mirae")
    with store.session(system_caller(other)) as s:
        foreign = s.parts.add(PartNumber(org_id=other.id, number="HB-1", name="Door"))
    with store.session(system_caller(org)) as s:
        part = s.parts.add(PartNumber(org_id=org.id, number="HB-1", name="Door"))
        model = s.model_versions.add(
            ModelVersion(
                org_id=org.id,
                name="door",
                version=1,
                task="anomaly",
                part_id=part.id,
                card={"threshold": {"value": 2.0}, "reference_scores": {"deciles": DECILES}},
            )
        )
        # serials S0..S7 once each; S8 fails first and passes on its second inspection.
        plan = [
            ("S0", Verdict.OK, None, None),
            ("S1", Verdict.OK, None, None),
            ("S2", Verdict.NG, "scratch", None),
            ("S3", Verdict.NG, "dent", ReviewDecision.ACCEPT),  # a false alarm, overruled
            ("S4", Verdict.OK, "crack", ReviewDecision.REJECT),  # a miss, caught at review
            ("S5", Verdict.OK, None, None),
            ("S6", Verdict.OK, None, None),
            ("S7", Verdict.OK, None, None),
            ("S8", Verdict.NG, "scratch", None),
            ("S8", Verdict.OK, None, None),
        ]
        sha = store_blob(s, png_bytes(), "image/png", "part.png")
        for i, (serial, verdict, kind, review) in enumerate(plan):
            s.inspections.add(
                InspectionRecord(
                    org_id=org.id,
                    part_id=part.id,
                    image_sha256=sha,
                    serial=serial,
                    score=1.0,
                    verdict=verdict,
                    defect_type=kind,
                    model_version_id=model.id,
                    review_decision=review,
                    taken_at=START + timedelta(hours=i),
                )
            )
        # one inspection outside the period: not counted
        s.inspections.add(
            InspectionRecord(
                org_id=org.id,
                part_id=part.id,
                image_sha256=sha,
                verdict=Verdict.NG,
                taken_at=END + timedelta(hours=1),
            )
        )
        rng = np.random.default_rng(0)
        for i, force in enumerate(rng.normal(100.0, 2.0, 50)):
            s.process_records.add(
                ProcessRecord(
                    org_id=org.id,
                    part_id=part.id,
                    recorded_at=START + timedelta(minutes=i),
                    values={"press_force_kN": float(force)},
                    units={"press_force_kN": "kN"},
                )
            )
    return org, part, foreign


def test_figures_count_reviews_over_verdicts(store: Store, supplier) -> None:  # type: ignore[no-untyped-def]
    org, part, _ = supplier
    with store.session(system_caller(org)) as s:
        report = compute_report(
            s, part.id, START, END, [{"name": "press_force_kN", "lsl": 88, "usl": 112}]
        )
    f = report.figures
    assert f["inspected"] == 10
    assert f["defective"] == 3  # S2, S4 (rejected at review), S8's first pass
    assert f["defects_by_type"] == {"crack": 1, "scratch": 2}
    assert f["ppm"] == 300000.0
    assert f["first_pass_yield"] == pytest.approx(6 / 9, abs=1e-5)  # S8 counted at its first pass
    cap = f["capability"]["press_force_kN"]
    assert cap["n"] == 50 and 1.5 < cap["cpk"] < 2.5  # ±12 kN around ~100 with σ ≈ 2
    assert f["drift"]["psi"] is None  # ten scored parts are too few to call drift
    assert report.part_number == "HB-1"


def test_report_validates_its_request(store: Store, supplier) -> None:  # type: ignore[no-untyped-def]
    org, part, foreign = supplier
    with store.session(system_caller(org)) as s:
        with pytest.raises(InvalidInput, match="period_end"):
            compute_report(s, part.id, END, START)
        with pytest.raises(InvalidInput, match=r"key_parameters\.0"):
            compute_report(s, part.id, START, END, [{"name": "press_force_kN"}])
        with pytest.raises((Forbidden, NotFound)):
            compute_report(s, foreign.id, START, END)


def test_psi_is_zero_on_the_reference_and_flags_a_shift() -> None:
    rng = np.random.default_rng(1)
    same = rng.uniform(0.0, 1.0, 2000)
    assert drift_psi(same, DECILES) < 0.02
    shifted = rng.uniform(0.5, 1.5, 2000)
    assert drift_psi(shifted, DECILES) > DRIFT_FLAG


def test_a_small_reference_uses_coarser_bins() -> None:
    """Ten reference scores cannot define deciles: the same scores must not look drifted."""
    rng = np.random.default_rng(2)
    reference = np.sort(rng.normal(0.5, 0.03, 10))
    deciles = np.quantile(reference, np.linspace(0, 1, 11)).tolist()
    same = rng.normal(0.5, 0.03, 200)
    assert drift_psi(same, deciles, n_reference=10) < DRIFT_FLAG
    shifted = rng.normal(0.6, 0.03, 200)
    assert drift_psi(shifted, deciles, n_reference=10) > DRIFT_FLAG
