"""Deployment parity and in-install sharing on the dashboard, in Debian's Chromium.

The demo world: Hanbit published its door-panel model with a golden set, Hanul imported
it on the same install (parity checked) and adapted a local version. Hanbit's scorecard
shows parity per supplier (✓ for Hanul, none for suppliers without a shared model), in
English and Korean; Hanul's Models page shows the lineage OEM base → local version.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.conftest import Served, log_in, shot, timed_goto

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _parity_by_supplier(page: Any) -> dict[str, Any]:
    rows = page.locator("[data-testid=scorecard-row]")
    return {
        rows.nth(k).locator("td").nth(1).inner_text(): rows.nth(k).locator("[data-testid=parity]")
        for k in range(rows.count())
    }


def test_parity_on_the_oem_scorecard_in_english_and_korean(page_for: Any, served: Served) -> None:
    page = page_for("en-GB")
    log_in(page, "admin@hanbit.example")
    timed_goto(page, served, "/scorecard", "[data-testid=parity]", "scorecard-parity")
    parity = _parity_by_supplier(page)
    assert parity["Hanul Stamping"].get_attribute("data-status") == "ok"
    assert "✓ same scores" in parity["Hanul Stamping"].inner_text()
    assert parity["Daesung Press"].get_attribute("data-status") == "no_shared_model"
    assert "Deployment parity" in page.inner_text("[data-testid=scorecard] thead")
    shot(page, "parity-scorecard")
    korean = page_for("ko-KR")
    log_in(korean, "admin@hanbit.example")
    korean.goto("/scorecard")
    korean.wait_for_selector("[data-testid=parity]")
    assert "✓ 점수 일치" in _parity_by_supplier(korean)["Hanul Stamping"].inner_text()
    assert "배포 동일성" in korean.inner_text("[data-testid=scorecard] thead")


def test_parity_supplier_models_page_shows_the_oem_base_and_its_local_version(
    page_for: Any, served: Served
) -> None:
    versions = served.get("hanul", "/api/model-versions")["items"]
    local = next(v for v in versions if v["base_version_id"])
    page = page_for("en-GB")
    log_in(page, "engineer@hanul.example")
    timed_goto(page, served, f"/models/{local['id']}", "[data-testid=lineage]", "model-lineage")
    lineage = page.inner_text("[data-testid=lineage]")
    assert "→" in lineage and "Hanbit Appliances" in lineage
    timed_goto(page, served, "/models", "[data-testid=package-parity]", "models-shared")
    assert "Hanbit Appliances" in page.inner_text("[data-testid=models-table]")
    # the package Hanul imported, with its parity on Hanbit's golden set
    assert page.get_attribute("[data-testid=package-parity]", "data-status") == "ok"
    imported = page.inner_text("[data-testid=package-imported]")
    assert "Hanbit Appliances" in imported and "✓ scores as signed" in imported
    assert page.locator("[data-testid=package-shared]").count() == 0  # taken already
    shot(page, "parity-models-lineage")
