"""The Traceability page on the demo world: Hanbit sees its cracks by Hanul lot, which lots
it already asked Hanul about (and the answer, one click away), and asks about another;
Hanul sees the shipments it sent; in English and Korean."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import Served, log_in, shot, timed_goto

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_oem_sees_cracks_traced_to_hanul_lots(page_for: Any, served: Served) -> None:
    page = page_for("en-GB")
    log_in(page, "engineer@hanbit.example")
    page.click("[data-testid=nav-traceability]")
    timed_goto(page, served, "/traceability", "[data-testid=trace-lot]", "traceability-oem")
    supplier = page.inner_text("[data-testid=trace-supplier]")
    assert "Hanul Stamping" in supplier and "Daesung" not in supplier
    lots = page.locator("[data-testid=trace-lot]")
    first = lots.first.inner_text()
    assert "HANUL-HB-DOOR-01-L" in first and "crack" in first
    assert "assembly" in page.inner_text("[data-testid=trace-lots]")
    assert page.locator("[data-testid=trace-received] [data-testid=trace-shipment]").count() == 14
    shot(page, "30-traceability-oem")


def test_oem_goes_from_the_trace_to_its_root_cause_requests(page_for: Any, served: Served) -> None:
    story = served.truth["root_cause"]
    ranked = [code for code, _ in story["ranked"]]
    assert story["lots"] == ranked[: len(story["lots"])]  # the demo asked its top-ranked lots
    page = page_for("en-GB")
    log_in(page, "engineer@hanbit.example")
    page.goto("/traceability")
    page.wait_for_selector("[data-testid=trace-lot]")
    rows = page.locator("[data-testid=trace-lot]")
    assert rows.locator("td:nth-child(2)").all_inner_texts() == ranked
    # the lots the demo asked about show the request's status and are not preselected again
    top = page.locator(f"[data-testid=trace-lot][data-lot='{ranked[0]}']")
    assert "answered" in top.locator("[data-testid=trace-request]").inner_text()
    assert not top.locator("[data-testid=trace-lot-select]").is_checked()
    send = page.locator("[data-testid=trace-ask-send]")
    assert send.is_disabled()
    assert "Tick the lots" in page.inner_text("[data-testid=trace-ask-why]")
    top.locator("[data-testid=trace-request]").click()
    page.wait_for_url("**/root-cause?request=*")
    shown = page.wait_for_selector("[data-testid=rc-request][data-focused=true]")
    assert ranked[0] in shown.inner_text()
    finding = shown.query_selector_all("[data-testid=rc-finding]")
    assert any("die temperature +" in f.inner_text() for f in finding)

    # ask about a lot not asked yet: exactly that lot is asked, and answered at once
    page.goto("/traceability")
    page.wait_for_selector("[data-testid=trace-lot]")
    fresh = next(code for code in reversed(ranked) if code not in story["lots"])
    row = page.locator(f"[data-testid=trace-lot][data-lot='{fresh}']")
    assert "not asked" in row.inner_text()
    row.locator("[data-testid=trace-lot-select]").check()
    assert send.inner_text() == "Ask Hanul Stamping about 1 lot" and send.is_enabled()
    send.click()
    assert fresh in page.inner_text("[data-testid=trace-ask-sent]")
    page.wait_for_selector(
        f"[data-testid=trace-lot][data-lot='{fresh}'] [data-testid=trace-request-status]"
    )
    assert "answered" in row.locator("[data-testid=trace-request-status]").inner_text()
    assert not row.locator("[data-testid=trace-lot-select]").is_checked()  # asked: cleared
    shot(page, "33-traceability-asked")
    page.click("[data-testid=trace-ask-open]")
    shown = page.wait_for_selector("[data-testid=rc-request][data-focused=true]")
    assert shown.query_selector("[data-testid=rc-status]").inner_text() == "answered"
    assert f"Hanul Stamping · {fresh} " in shown.inner_text()
    traced = served.get("hanbit", "/api/dashboard/root-cause", "engineer")["traced"]
    newest = traced[0]
    assert newest["lots"] == [fresh] and newest["found_at"] == "assembly"
    assert newest["defect_type"] == "crack"

    page.click("[data-testid=lang]")
    page.goto("/traceability")
    page.wait_for_selector("[data-testid=trace-request]")
    assert "답변 완료" in page.locator("[data-testid=trace-request]").first.inner_text()
    shot(page, "34-traceability-asked-ko")


def test_supplier_sees_its_shipments_in_korean(page_for: Any, served: Served) -> None:
    page = page_for("ko-KR")
    log_in(page, "engineer@hanul.example")
    assert page.inner_text("[data-testid=nav-traceability]") == "추적성"
    timed_goto(
        page, served, "/traceability", "[data-testid=trace-shipment]", "traceability-supplier"
    )
    rows = page.locator("[data-testid=trace-shipments] [data-testid=trace-shipment]")
    assert rows.count() == 14
    assert "Hanbit Appliances" in rows.first.inner_text()
    assert "출하 내역" in page.inner_text("main")
    assert page.locator("[data-testid=trace-lot]").count() == 0  # the OEM's defects stay there
    shot(page, "31-traceability-supplier")


def test_another_supplier_sees_no_hanul_shipment(page_for: Any, served: Served) -> None:
    page = page_for("en-GB")
    log_in(page, "admin@daesung.example")
    page.goto("/traceability")
    page.wait_for_selector("[data-testid=empty]")
    assert "HANUL" not in page.inner_text("main")


def test_oem_imports_defects_by_csv_and_a_bad_cell_is_named(
    page_for: Any, served: Served, tmp_path: Path
) -> None:
    page = page_for("en-GB")
    log_in(page, "operator@hanbit.example")
    page.goto("/traceability")
    page.wait_for_selector("[data-testid=trace-lot]")
    header = "supplier,stage,defect_type,found_at,count,lots\n"
    bad = tmp_path / "bad.csv"
    bad.write_text(header + "hanul,incoming,crack,2026-11-20T08:00:00Z,many,HANUL-HB-DOOR-01-L20\n")
    page.set_input_files("[data-testid=import-defects]", str(bad))
    error = page.wait_for_selector("[data-testid=error]")
    assert "row 1" in error.inner_text() and "count" in error.inner_text()
    good = tmp_path / "good.csv"
    good.write_text(header + "hanul,incoming,crack,2026-11-20T08:00:00Z,3,HANUL-HB-DOOR-01-L20\n")
    page.set_input_files("[data-testid=import-defects]", str(good))
    assert "1 defect records" in page.inner_text("[data-testid=import-defects-result]")
    page.wait_for_selector("[data-testid=trace-lot] >> text=incoming 3")
    shot(page, "32-traceability-import")
