"""The dashboard in Debian's Chromium on the demo world: what each kind of user does.

Every page is visited and photographed (artifacts/screenshots/*.png); page load times go
to artifacts/screenshots/timings.json and are reported, never asserted.
"""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from dure.services.demo.sheet_metal import sheet_image
from tests.browser.conftest import Served, log_in, shot, timed_goto

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _png_files(folder: Path, label: str, n: int, seed: int) -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for k in range(n):
        path = folder / f"{label}-{seed + k}.png"
        buf = io.BytesIO()
        Image.fromarray(sheet_image(seed + k, label).pixels).save(buf, "PNG")
        path.write_bytes(buf.getvalue())
        paths.append(str(path))
    return paths


def test_supplier_engineer_works_through_the_day(
    page_for: Any, served: Served, tmp_path: Path
) -> None:
    page = page_for("en-GB")
    log_in(page, "engineer@daesung.example")

    # overview: the line's figures for today and its trend
    timed_goto(page, served, "/", "[data-testid=line-card]", "overview")
    card = page.locator("[data-testid=line-card]").first
    assert "Press line 1" in card.inner_text()
    # "today" is the browser's day: the demo's shifts may not have started yet (shortly
    # after midnight), so the page must show what the API counts for that day, and the
    # line's 14 days must hold inspections
    tz = page.evaluate("Intl.DateTimeFormat().resolvedOptions().timeZone")
    line = next(
        x
        for x in served.get("daesung", f"/api/dashboard/overview?tz={tz}")["lines"]
        if x["name"] == "Press line 1"
    )
    shown = int(card.locator("[data-testid=inspected-today] .stat-value").inner_text())
    assert shown == line["today"]["inspected"]
    assert sum(day["inspected"] for day in line["trend"]) > 0
    shot(page, "01-overview-supplier")

    # line: the live stream with heat-maps, the Pareto, the control chart
    line_id = served.get("daesung", "/api/lines")["items"][0]["id"]
    timed_goto(page, served, f"/lines/{line_id}", "[data-testid=stream-item]", "line")
    assert page.locator("[data-testid=stream-item]").count() >= 10
    page.wait_for_selector("[data-testid=pareto] canvas")
    page.wait_for_selector("[data-testid=control-chart] canvas")
    page.wait_for_selector("[data-testid=stream-item] img")
    shot(page, "02-line")

    # teach a part that has no images yet: upload, train with progress, choose, inspect
    parts = served.get("daesung", "/api/parts")["items"]
    side = next(p for p in parts if p["number"].endswith("HB-SIDE-02"))
    timed_goto(page, served, f"/teach/{side['id']}", "[data-testid=image-counts]", "teach")
    assert re.search(r"\b0 good\b", page.inner_text("[data-testid=image-counts]"))
    page.set_input_files("[data-testid=upload-good]", _png_files(tmp_path, "good", 12, 500))
    page.wait_for_selector("text=12 good")
    page.click("[data-testid=train]")
    page.wait_for_selector("[data-testid=progress]")
    shot(page, "03-teach-training")
    page.wait_for_selector("[data-testid=metrics] [data-testid=threshold-slider]", timeout=240_000)
    before = page.inner_text("[data-testid=far]")
    slider = page.locator("[data-testid=threshold-slider]")
    slider.fill("0")  # the lowest threshold: every held-out good image is a false alarm
    assert page.inner_text("[data-testid=far]").startswith("100")
    assert page.inner_text("[data-testid=far]") != before
    slider.fill(str(int(slider.get_attribute("max") or 0) - 5))
    chosen = page.inner_text("[data-testid=threshold-value]")
    page.click("[data-testid=save-threshold]")
    page.wait_for_selector("text=Threshold saved")
    page.set_input_files("[data-testid=inspect-file]", _png_files(tmp_path, "crack", 1, 900))
    result = page.wait_for_selector("[data-testid=inspect-result]", timeout=60_000)
    assert re.search(
        r"(OK|NG): score [\d.,]+ \(threshold " + re.escape(chosen), result.inner_text()
    )
    page.wait_for_selector("[data-testid=inspect-result] img")
    shot(page, "04-teach-done")

    # models: the new model with its card, trained here
    timed_goto(page, served, "/models", "[data-testid=models-table]", "models")
    assert "inspection " + side["number"] in page.inner_text("[data-testid=models-table]")
    page.click(f"text=inspection {side['number']} v1")
    page.wait_for_selector("[data-testid=model-detail]")
    assert "chosen" in page.inner_text("[data-testid=model-detail]")
    shot(page, "05-models")


def test_operator_reviews_flagged_parts_by_keyboard(page_for: Any, served: Served) -> None:
    page = page_for("en-GB")
    log_in(page, "operator@mirae.example")
    timed_goto(page, served, "/review", "[data-testid=review-item]", "review")
    waiting = int(re.findall(r"\d+", page.inner_text("[data-testid=waiting]"))[0])
    assert waiting >= 1
    first = page.get_attribute("[data-testid=review-item]", "data-id")
    page.wait_for_selector("[data-testid=review-item] img")
    shot(page, "06-review")
    # the seeded demo's first flagged part is a thin scratch (the photographed one): it is
    # outlined where it is, a small share of the part, not buried under a blob
    shown = served.get("mirae", f"/api/inspections/{first}", role="operator")
    assert shown["defect_type"] == "scratch", shown
    assert shown["regions"] and sum(r["share"] for r in shown["regions"]) <= 0.15, shown
    page.keyboard.press("r")  # reject: a defect, with the model's defect type
    page.wait_for_selector("[data-testid=saved]")
    assert int(re.findall(r"\d+", page.inner_text("[data-testid=waiting]"))[0]) == waiting - 1
    decided = served.get("mirae", f"/api/inspections/{first}", role="operator")
    assert decided["review_decision"] == "reject"
    # the decision is training data now: the image joined the part's labelled images
    images = served.get("mirae", f"/api/parts/{decided['part_id']}/images?limit=500")["items"]
    assert any(i["source_name"] == f"review-{first}" for i in images)


def test_switching_to_korean_and_korean_browsers_get_korean(page_for: Any, served: Served) -> None:
    page = page_for("en-GB")
    log_in(page, "engineer@hanul.example")
    assert page.inner_text("[data-testid=nav-overview]") == "Overview"
    page.click("[data-testid=lang]")
    page.wait_for_selector("text=오늘의 라인 현황")
    assert page.inner_text("[data-testid=nav-overview]") == "현황"
    assert page.evaluate("document.documentElement.lang") == "ko"
    shot(page, "07-overview-korean")
    korean = page_for("ko-KR")
    korean.goto("/login")
    korean.wait_for_selector("text=두레 로그인")
    shot(korean, "08-login-korean")


def test_oem_sees_its_scorecard_and_admin(page_for: Any, served: Served) -> None:
    page = page_for("en-GB")
    log_in(page, "admin@hanbit.example")
    timed_goto(page, served, "/scorecard", "[data-testid=scorecard-row]", "scorecard")
    rows = page.locator("[data-testid=scorecard-row]")
    assert rows.count() == 3
    names = {rows.nth(k).locator("td").nth(1).inner_text() for k in range(3)}
    assert names == {"Daesung Press", "Mirae Metal", "Hanul Stamping"}
    ranks = [rows.nth(k).locator("td").first.inner_text() for k in range(3)]
    assert ranks == ["1", "2", "3"]
    page.wait_for_selector("[data-testid=scorecard-trend] canvas")
    shot(page, "09-scorecard")
    timed_goto(page, served, "/admin", "[data-testid=audit]", "admin")
    assert "Hanbit Appliances" in page.inner_text("[data-testid=orgs]")
    page.fill("[data-testid=audit-action]", "read_shared")
    page.click("text=Search (action, resource)")
    page.wait_for_selector("[data-testid=audit] >> text=read_shared")
    shot(page, "10-admin")
    # the OEM has no lines of its own: the overview says where to look instead
    page.goto("/")
    page.wait_for_selector("[data-testid=empty]")
    assert "scorecard" in page.inner_text("[data-testid=empty]")


def test_a_supplier_cannot_reach_another_suppliers_pages(page_for: Any, served: Served) -> None:
    page = page_for("en-GB")
    log_in(page, "admin@daesung.example")
    mirae_line = served.get("mirae", "/api/lines")["items"][0]["id"]
    mirae_part = served.get("mirae", "/api/parts")["items"][0]["id"]
    mirae_model = served.get("mirae", "/api/inspection-models")["items"][0]["id"]
    for path in (f"/lines/{mirae_line}", f"/teach/{mirae_part}", f"/models/{mirae_model}"):
        page.goto(path)
        error = page.wait_for_selector("[data-testid=error]")
        assert "Not found" in error.inner_text()
        assert "Mirae" not in page.inner_text("main")
    shot(page, "11-tampered-url")
    # a supplier has no scorecard, and Daesung's admin sees only Daesung's users
    page.goto("/scorecard")
    assert "for an OEM" in page.inner_text("[data-testid=empty]")
    page.goto("/admin")
    page.wait_for_selector("[data-testid=users]")
    users = page.inner_text("[data-testid=users]")
    assert "daesung.example" in users and "mirae.example" not in users
    # an empty review queue for Daesung contains none of Mirae's parts
    page.goto("/review")
    page.wait_for_selector("[data-testid=waiting]")
    assert "MIRAE" not in page.inner_text("main")


def test_wrong_password_is_told_in_words(page_for: Any, served: Served) -> None:
    page = page_for("en-GB")
    page.goto("/login")
    page.fill("input[name=email]", "engineer@daesung.example")
    page.fill("input[name=password]", "not-the-password")
    page.click("[data-testid=login-submit]")
    error = page.wait_for_selector("[data-testid=error]")
    assert "password" in error.inner_text().lower()
    shot(page, "00-login-error")


def test_admin_adds_a_user_and_gives_then_revokes_a_grant(page_for: Any, served: Served) -> None:
    page = page_for("en-GB")
    log_in(page, "admin@hanul.example")
    timed_goto(page, served, "/admin", "[data-testid=new-user]", "admin-supplier")
    form = page.locator("[data-testid=new-user]")
    form.locator("input[type=email]").fill("park@hanul.example")
    form.locator("input[placeholder=Name]").fill("Park")
    form.locator("input[type=password]").fill("short")
    form.locator("button[type=submit]").click()
    error = page.wait_for_selector("[data-testid=new-user] [data-testid=error]")
    assert "password" in error.inner_text()  # the server's words, naming the field
    form.locator("input[type=password]").fill("long-enough-1")
    form.locator("button[type=submit]").click()
    page.wait_for_selector("text=Added park@hanul.example")
    assert "park@hanul.example" in page.inner_text("[data-testid=users]")

    grant = page.locator("[data-testid=new-grant]")
    grant.locator("select").nth(0).select_option(label="Hanbit Appliances")
    grant.locator("select").nth(1).select_option("process_records")
    grant.locator("select").nth(2).select_option(label="HANUL-HB-SIDE-02")
    grant.locator("button[type=submit]").click()
    row = page.locator("[data-testid=grants] tr", has_text="process_records")
    row.wait_for()
    assert "HANUL-HB-SIDE-02" in row.inner_text()
    shot(page, "12-admin-supplier")
    row.locator("text=Revoke").click()
    page.locator("[data-testid=grants] tr", has_text="process_records").locator(
        "text=revoked"
    ).wait_for()
    given = served.get("hanul", "/api/grants")["items"]
    assert [g["revoked_at"] is not None for g in given if g["scope"] == "process_records"] == [True]
