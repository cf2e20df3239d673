"""The Machines page in Debian's Chromium on the demo world: Mirae Metal's maintenance
engineer finds the wearing press, its remaining life and the vibration channel that
drives it; in Korean too. Load times go to timings.json (reported, never asserted)."""

from __future__ import annotations

import re
import time
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.browser.conftest import Served, log_in, shot, timed_goto

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _api_seconds(served: Served, slug: str, path: str) -> float:
    token = served.tokens[slug]["engineer"]
    started = time.perf_counter()
    response = httpx.get(
        served.url + path, headers={"Authorization": f"Bearer {token}"}, timeout=30
    )
    response.raise_for_status()
    return round(time.perf_counter() - started, 3)


def test_engineer_finds_the_wearing_press(page_for: Any, served: Served) -> None:
    page = page_for("en-GB")
    log_in(page, "engineer@mirae.example")

    # the list: the press wears, its RUL is finite, its health below the other presses'
    page.click("[data-testid=nav-machines]")
    page.wait_for_selector("[data-testid=machine-row]")
    timed_goto(page, served, "/machines", "[data-testid=machine-row]", "machines")
    row = page.locator("[data-testid=machine-row]").first
    assert "press-800t" in row.inner_text()
    assert row.get_attribute("data-status") == "degrading"
    rul = row.locator("[data-testid=machine-rul]").inner_text()
    assert re.match(r"≈ [\d.,]+ (days|hours) \([\d.,]+–[\d.,?]+\)", rul), rul
    health = float(row.locator("[data-testid=machine-health]").get_attribute("data-value"))
    others = [
        m["health_percent"]
        for slug in ("daesung", "hanul")
        for m in served.get(slug, "/api/machines", "engineer")["machines"]
    ]
    assert others and health < min(others), (health, others)
    assert "vibration_rms" in row.inner_text()  # the channel driving it
    # which model gave the RUL: no press of the demo has run to a recorded failure
    source = row.locator("[data-testid=rul-source]")
    assert source.get_attribute("data-source") == "degradation index"
    assert "degradation index" in source.inner_text()
    shot(page, "machines-01-list")

    # one press: the vibration trend with its normal band and anomaly marks in red
    asset_id = served.get("mirae", "/api/machines", "engineer")["machines"][0]["asset_id"]
    row.locator("a").first.click()
    page.wait_for_selector("[data-testid=channel-card]")
    timed_goto(
        page, served, f"/machines/{asset_id}", "[data-testid=channel-card] canvas", "machine"
    )
    vibration = page.locator("[data-testid=channel-card][data-channel=vibration_rms]")
    assert int(vibration.get_attribute("data-marks") or 0) > 0
    assert vibration.locator("canvas").count() >= 1
    page.wait_for_selector("[data-testid=health-index] canvas")
    assert page.inner_text("[data-testid=detail-rul]") == rul
    shot(page, "machines-02-press")

    # record a repair two days ago: it is listed; deleted again, the list is empty
    events = page.locator("[data-testid=maintenance-events]")
    assert "No failures, repairs or replacements" in events.inner_text()
    form = page.locator("[data-testid=new-maintenance-event]")
    form.locator("select[name=kind]").select_option("repair")
    two_days_ago = datetime.now() - timedelta(days=2)  # the browser's local time
    form.locator("input[name=occurred_at]").fill(two_days_ago.strftime("%Y-%m-%dT%H:%M"))
    form.locator("input[name=note]").fill("new bearing")
    form.locator("button[type=submit]").click()
    page.wait_for_selector("[data-testid=maintenance-event][data-kind=repair]")
    assert "new bearing" in events.inner_text()
    recorded = served.get("mirae", f"/api/assets/{asset_id}/maintenance-events", "engineer")
    assert [e["kind"] for e in recorded] == ["repair"]
    events.locator("[data-testid=maintenance-event] button").click()
    page.wait_for_selector("[data-testid=maintenance-event]", state="detached")
    assert served.get("mirae", f"/api/assets/{asset_id}/maintenance-events", "engineer") == []

    # a link to one channel highlights it
    channels = served.get("mirae", f"/api/assets/{asset_id}/channels", "engineer")["items"]
    vib_id = next(c["id"] for c in channels if c["name"] == "vibration_rms")
    page.goto(f"/machines/{asset_id}?channel={vib_id}")
    page.wait_for_selector("[data-testid=channel-card].highlight[data-channel=vibration_rms]")

    # in Korean
    page.click("[data-testid=lang]")
    page.wait_for_selector("text=잔여 수명")
    assert "건전성 지수" in page.inner_text("main")
    page.goto("/machines")
    page.wait_for_selector("[data-testid=machine-row]")
    assert re.search(r"≈ [\d.,]+ (일|시간)", page.inner_text("[data-testid=machine-rul]"))
    assert "열화 지수" in page.locator("[data-testid=rul-source]").first.inner_text()
    assert page.inner_text("[data-testid=nav-machines]") == "설비"
    shot(page, "machines-03-korean")

    served.timings["api_machines"] = _api_seconds(served, "mirae", "/api/machines")
    served.timings["api_machine"] = _api_seconds(served, "mirae", f"/api/machines/{asset_id}")
    served.timings["api_asset_health"] = _api_seconds(
        served, "mirae", f"/api/assets/{asset_id}/health"
    )
    print("machines timings", served.timings)
