"""The Process page in Chromium on the demo world: Hanul Stamping's drifting die temperature
breaks a run rule on its door panel's chart, with Cpk beside it, in English and Korean."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.conftest import Served, log_in, shot, timed_goto

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


def test_the_oem_has_no_process_link(page_for: Any, served: Served) -> None:
    page = page_for("en-GB")
    log_in(page, "admin@hanbit.example")
    assert page.locator("[data-testid=nav-process]").count() == 0
