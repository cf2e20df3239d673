"""The root-cause pages in Chromium on the demo world: Hanbit's traced view says which
Hanul lot and process setting its assembly cracks come from; Hanul's "what we shared"
lists the request and the exact JSON that left, and no process record; in English and
Korean. A new request sent from the page is answered at once."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.browser.conftest import Served, log_in, shot, timed_goto

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_root_cause_traced_view_names_the_lot_and_the_die_temperature(
    page_for: Any, served: Served
) -> None:
    story = served.truth["root_cause"]
    assert story["status"] == "answered"
    top = story["lots"][0]  # the lot the trace ranks highest
    page = page_for("en-GB")
    log_in(page, "engineer@hanbit.example")
    assert page.locator("[data-testid=nav-root_cause]").count() == 1
    assert page.locator("[data-testid=nav-shared]").count() == 0
    timed_goto(page, served, "/root-cause", "[data-testid=rc-finding]", "root_cause")
    sentences = page.locator("[data-testid=rc-finding]").all_inner_texts()
    said = next(s for s in sentences if f"lot {top}:" in s)
    assert said.startswith("cracks found at assembly traced to Hanul Stamping lot")
    assert "die temperature +" in said and "σ above normal, Cpk " in said
    assert page.locator("[data-testid=rc-status]").first.inner_text() == "answered"
    shot(page, "60-root-cause")

    # ask again from the page: the supplier's install answers at once (other tests of the
    # session may have asked too: count from what the page shows now)
    before = page.locator("[data-testid=rc-request]").count()
    page.fill("[data-testid=rc-lots]", story["lots"][0])
    page.click("[data-testid=rc-send]")
    page.wait_for_function(
        "n => document.querySelectorAll('[data-testid=rc-request]').length > n", arg=before
    )
    first = page.locator("[data-testid=rc-request]").first
    assert story["lots"][0] in first.inner_text()
    assert first.locator("[data-testid=rc-status]").inner_text() == "answered"

    page.click("[data-testid=lang]")
    page.wait_for_selector("text=협력사로 추적한 근본 원인")
    korean = page.locator("[data-testid=rc-finding]").all_inner_texts()
    assert any("조립에서 발견된 균열" in s and "금형 온도" in s for s in korean)
    shot(page, "61-root-cause-ko")


def test_root_cause_what_we_shared_shows_the_json_that_left(page_for: Any, served: Served) -> None:
    story = served.truth["root_cause"]
    page = page_for("en-GB")
    log_in(page, "admin@hanul.example")
    assert page.locator("[data-testid=nav-shared]").count() == 1
    assert page.locator("[data-testid=nav-root_cause]").count() == 0
    timed_goto(page, served, "/root-cause/shared", "[data-testid=shared-row]", "shared")
    assert "sent at once" in page.locator("[data-testid=shared-mode]").first.inner_text()
    # the grant's budget of requests per 24 hours: how many the OEM used, how many are left
    budget = page.locator("[data-testid=shared-budget]").first.inner_text()
    assert " of 20 used, " in budget and " left" in budget
    row = page.locator("[data-testid=shared-row]").last  # the demo's first request
    assert "Hanbit Appliances" in row.inner_text()
    row.locator("summary").click()
    shown = json.loads(row.locator("[data-testid=shared-json]").inner_text())
    assert [lot["lot"] for lot in shown["lots"]] == story["lots"]
    # what the page shows is what the OEM received
    traced = served.get("hanbit", "/api/dashboard/root-cause", "engineer")["traced"]
    assert any(r["answer"] == shown for r in traced)
    assert "serial" not in json.dumps(shown["lots"])
    shot(page, "62-what-we-shared")

    # review before sending: the admin switches the grant, and the mode says so
    page.click("[data-testid=shared-toggle]")
    page.wait_for_selector("[data-testid=shared-mode]:has-text('reviewed before sending')")
    page.click("[data-testid=lang]")
    page.wait_for_selector("text=공유 내역")
    assert "검토 후 전송" in page.locator("[data-testid=shared-mode]").first.inner_text()
    assert "20건 중" in page.locator("[data-testid=shared-budget]").first.inner_text()
    page.click("[data-testid=shared-toggle]")  # back to answering at once
    page.wait_for_selector("[data-testid=shared-mode]:has-text('즉시 전송')")
    shot(page, "63-what-we-shared-ko")
