"""The Process page in Chromium on the demo world: Hanul Stamping's drifting die temperature
breaks a run rule on its door panel's chart, with Cpk beside it, and the door panel's
process-quality model (trained by the demo from its inspected parts) shows the defects'
root causes and setpoint advice with its predicted gain, in English and Korean."""

from __future__ import annotations

from typing import Any

import pytest

from dure.domain.records import InspectionRecord, Verdict
from dure.services.inspection.records import store_blob
from dure.services.platform.accounts import system_caller
from tests.browser.conftest import Served, log_in, shot, timed_goto
from tests.factories import png_bytes

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_engineer_sees_the_die_temperature_break_a_rule(page_for: Any, served: Served) -> None:
    parts = served.get("hanul", "/api/parts", "engineer")["items"]
    door = next(p for p in parts if p["number"].endswith("HB-DOOR-01"))
    page = page_for("en-GB")
    log_in(page, "engineer@hanul.example")
    assert page.locator("[data-testid=nav-process]").count() == 1
    timed_goto(
        page,
        served,
        f"/process?part={door['id']}&parameter=die_temp_C",
        "[data-testid=parameter-die_temp_C] [data-testid=chart-die_temp_C] canvas",
        "process",
    )
    card = page.locator("[data-testid=parameter-die_temp_C]")
    assert int(card.get_attribute("data-violations") or 0) >= 1
    assert "points break a rule" in card.locator("[data-testid=violation-count]").inner_text()
    cpk = card.locator("[data-testid=cpk]").inner_text()
    assert cpk.startswith("Cpk ") and "95 % CI" in cpk
    assert page.locator("[data-testid=violation]").count() >= 1
    assert "die_temp_C" in page.locator("[data-testid=violation]").first.inner_text()
    # only the chosen parameter is charted; the picker shows it
    assert page.locator(".process-card").count() == 1
    assert page.locator("[data-testid=parameter-picker]").input_value() == "die_temp_C"
    shot(page, "20-process")

    page.click("[data-testid=lang]")
    page.wait_for_selector("text=공정 SPC")
    assert "규칙 위반" in card.locator("[data-testid=violation-count]").inner_text()
    assert "95 % 신뢰구간" in card.locator("[data-testid=cpk]").inner_text()
    shot(page, "21-process-ko")


def test_the_demo_door_panels_have_a_process_model_that_finds_the_true_drivers(
    served: Served,
) -> None:
    drivers = set(served.truth["defect_drivers"])
    assert drivers == {"die_temp_C", "sheet_thickness_mm", "lubricant_ml"}
    for slug in ("daesung", "mirae", "hanul"):
        trained = served.truth["suppliers"][slug]["process_model"]
        assert trained["trained"] and trained["rows"] >= 100, trained
        parts = served.get(slug, "/api/parts", "engineer")["items"]
        door = next(p for p in parts if p["number"].endswith("HB-DOOR-01"))
        view = served.get(slug, f"/api/dashboard/process?part_id={door['id']}", "engineer")
        causes = [c["parameter"] for c in view["defects"]["causes"]]
        assert drivers & set(causes[:2]), (slug, causes)
    # Hanul's dies run hot: its cracks come from the die temperature, and the page says so
    view = served.get("hanul", f"/api/dashboard/process?part_id={door['id']}", "engineer")
    assert view["defects"]["causes"][0]["parameter"] == "die_temp_C", view["defects"]["causes"]
    assert view["defects"]["gain"] > 0


def test_the_engineer_sees_root_causes_and_the_advice_gain(page_for: Any, served: Served) -> None:
    parts = served.get("hanul", "/api/parts", "engineer")["items"]
    door = next(p for p in parts if p["number"].endswith("HB-DOOR-01"))
    page = page_for("en-GB")
    log_in(page, "engineer@hanul.example")
    timed_goto(
        page, served, f"/process?part={door['id']}", "[data-testid=causes-chart] canvas", "causes"
    )
    defects = page.locator("[data-testid=defects]")
    assert "Root causes (mean |SHAP| per parameter)" in defects.inner_text()
    assert page.locator("[data-testid=train-process-model]").count() == 0
    assert "Model door panel quality v1" in defects.inner_text()
    advice = page.locator("[data-testid=advice]")
    assert "Setpoint advice" in advice.inner_text()
    gain = advice.locator("[data-testid=gain]").inner_text()
    assert "Predicted gain" in gain and "%" in gain
    shot(page, "23-process-demo-causes")

    page.click("[data-testid=lang]")
    page.wait_for_selector("text=근본 원인 (변수별 평균 |SHAP|)")
    assert "설정값 권고" in advice.inner_text()
    assert "예측 개선" in advice.locator("[data-testid=gain]").inner_text()
    shot(page, "24-process-demo-causes-ko")


def test_the_oem_has_no_process_link(page_for: Any, served: Served) -> None:
    page = page_for("en-GB")
    log_in(page, "admin@hanbit.example")
    assert page.locator("[data-testid=nav-process]").count() == 0


def _inspected_side_panels(served: Served) -> str:
    """Outcomes for Hanul's side panels, matched to its process records by serial: the 25
    parts the demo's true defect rule makes likeliest to fail are NG. The part's id."""
    with served.store.system() as s:
        org = s.organisations.get_by_slug("hanul")
    caller = system_caller(org)
    truth = served.truth["suppliers"]["hanul"]["process"]
    with served.store.session(caller) as s:
        side = next(p for p in s.parts.list_own() if p.number.endswith("HB-SIDE-02"))
        records = s.process_records.own_between(None, None, part_id=side.id)
        likely = {t["serial"]: t["p_defect"] for t in truth}
        ranked = sorted(records, key=lambda r: -likely[r.serial])
        bad = {r.serial for r in ranked[:25]}
        sha = store_blob(s, png_bytes(), "image/png", "side-panel.png")
        for r in records:
            s.inspections.add(
                InspectionRecord(
                    org_id=org.id,
                    part_id=side.id,
                    image_sha256=sha,
                    serial=r.serial,
                    taken_at=r.recorded_at,
                    verdict=Verdict.NG if r.serial in bad else Verdict.OK,
                    defect_type="crack" if r.serial in bad else None,
                )
            )
    return side.id


def test_root_causes_and_setpoint_advice_after_training(page_for: Any, served: Served) -> None:
    side_id = _inspected_side_panels(served)
    page = page_for("en-GB")
    log_in(page, "engineer@hanul.example")
    page.goto(f"/process?part={side_id}")
    page.wait_for_selector("[data-testid=chart-die_temp_C] canvas")
    page.click("[data-testid=train-process-model]")
    page.wait_for_selector("[data-testid=causes-chart] canvas", timeout=120_000)
    assert "Model process quality" in page.inner_text("[data-testid=defects]")
    advice = page.inner_text("[data-testid=advice]")
    assert "Setpoint advice" in advice and "not a proven cause" in advice
    shot(page, "22-process-causes")


def _long_history(served: Served, n: int) -> str:
    """A part of Hanul's with ``n`` in-control process records, one a second (a long
    history: more than a chart shows). The part's id."""
    from datetime import UTC, datetime, timedelta

    import numpy as np

    from dure.domain.parts import PartNumber
    from dure.domain.records import ProcessRecord

    with served.store.system() as s:
        org = s.organisations.get_by_slug("hanul")
    values = np.random.default_rng(21).normal(180.0, 1.5, n)
    start = datetime(2026, 10, 1, tzinfo=UTC)
    with served.store.session(system_caller(org)) as s:
        part = s.parts.add(PartNumber(org_id=org.id, number="HB-LONG-09", name="long run"))
        s.process_records.add_new(
            [
                ProcessRecord(
                    org_id=org.id,
                    part_id=part.id,
                    recorded_at=start + timedelta(seconds=i),
                    values={"weld_current_A": float(v)},
                    units={"weld_current_A": "A"},
                    serial=f"L{i}",
                )
                for i, v in enumerate(values)
            ]
        )
    return part.id


def test_a_long_history_shows_the_newest_records_of_all(page_for: Any, served: Served) -> None:
    from dure.services.process.chart_windows import CHART_RECORDS, limit_records

    n = CHART_RECORDS + limit_records() + 1000
    part_id = _long_history(served, n)
    page = page_for("en-GB")
    log_in(page, "engineer@hanul.example")
    timed_goto(
        page,
        served,
        f"/process?part={part_id}",
        "[data-testid=chart-weld_current_A] canvas",
        "process-long-history",
    )
    count = page.inner_text("[data-testid=record-count]")
    assert f"newest {CHART_RECORDS} of {n} process records" in count
    card = page.inner_text("[data-testid=parameter-weld_current_A]")
    assert f"first 50 points of the oldest {limit_records()} records" in card
    page.click("[data-testid=lang]")
    page.wait_for_selector("text=공정 SPC")
    assert f"공정 기록 {n}건 중 최근 {CHART_RECORDS}건" in page.inner_text(
        "[data-testid=record-count]"
    )
    shot(page, "23-process-long-history")
