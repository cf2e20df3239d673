"""The setup, alerts and connectors pages in Debian's Chromium on the demo world: a new
company sets itself up from the browser alone; alerts are filtered and acknowledged;
a connector is added, tested and shows its runner's status and what it refused."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from dure.domain.alerts import AlertKind
from dure.domain.connectors import StreamRejection
from dure.domain.organisations import Organisation
from dure.ports import free_port
from dure.services.alerts.raising import raise_alert
from dure.services.dashboard.setup import setup_view
from dure.services.platform.accounts import create_org, create_user, system_caller
from tests.browser.conftest import PASSWORD, Served, log_in, shot, timed_goto

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _new_company(served: Served, slug: str) -> tuple[Organisation, str]:
    """A fresh supplier of the demo OEM with one admin; it and the admin's e-mail."""
    with served.store.system() as s:
        org = create_org(s, "Saebyeok Metal", "supplier", slug)
        s.organisations.link(s.organisations.get_by_slug("hanbit").id, org.id)
    email = f"admin@{slug}.example"
    with served.store.session(system_caller(org)) as s:
        create_user(s, email, "Saebyeok admin", "admin", PASSWORD)
    return org, email


def _submit(page: Any, form: str, **values: str) -> None:
    """Fill the form (a data-testid, or a CSS selector with a space) and submit it."""
    scope = form if " " in form or "[" in form else f"[data-testid={form}]"
    for name, value in values.items():
        field = page.locator(f"{scope} [name={name}]")
        if field.evaluate("e => e.tagName") == "SELECT":
            field.select_option(label=value)
        else:
            field.fill(value)
    page.click(f"{scope} button[type=submit]")


def _sensor_csv(asset: str, channel: str, n: int = 60) -> bytes:
    start = datetime.now(UTC) - timedelta(hours=1)
    rows = ["asset,channel,time,value,unit"]
    for k in range(n):
        at = (start + timedelta(seconds=30 * k)).isoformat()
        rows.append(f"{asset},{channel},{at},{2.0 + 0.1 * (k % 7)},mm/s")
    return ("\n".join(rows) + "\n").encode()


def test_a_new_company_sets_itself_up_in_the_browser(page_for: Any, served: Served) -> None:
    org, email = _new_company(served, "saebyeok")
    page = page_for("en-GB")
    log_in(page, email)

    # the overview's empty state points to the setup page, not to curl
    page.click("[data-testid=to-setup]")
    page.wait_for_selector("[data-testid=page-title]:has-text('Set up your company')")
    timed_goto(page, served, "/setup", "[data-testid=new-site]", "setup")

    # bad input: the server's words next to the field it names, nothing stored
    _submit(page, "new-site", name="")
    error = page.wait_for_selector("[data-testid=new-site] [data-testid=field-error]")
    assert "name" in error.inner_text() and "at least 1 character" in error.inner_text()
    assert page.locator("[data-testid=site]").count() == 0

    _submit(page, "new-site", name="Changwon plant")
    page.wait_for_selector("[data-testid=site]:has-text('Changwon plant')")
    _submit(page, "new-line", name="Press line A")
    page.wait_for_selector("[data-testid=line]:has-text('Press line A')")
    _submit(page, "new-station", line_id="Press line A (Changwon plant)", name="Camera 1")
    page.wait_for_selector("[data-testid=station]:has-text('Camera 1')")
    _submit(page, "new-part", number="SB-1001", name="Door panel")
    page.wait_for_selector("[data-testid=part]:has-text('SB-1001')")

    # the taxonomy: the OEM's classes are inherited (read-only), ours are added beside them
    inherited = page.locator("[data-testid=defect-type][data-inherited=yes]")
    assert inherited.count() == 5
    assert "Hanbit Appliances (read-only)" in inherited.first.inner_text()
    _submit(page, "new-defect-type", code="Burr mark", name="Burr")  # bad code: named
    error = page.wait_for_selector("[data-testid=new-defect-type] [data-testid=field-error]")
    assert error.inner_text().startswith("code:")
    _submit(page, "new-defect-type", code="burr", name="Burr")
    own = page.wait_for_selector("[data-testid=defect-type][data-inherited=no]:has-text('burr')")
    assert "your own" in own.inner_text()

    # a machine on the line, a channel, and a sensor file with its chart
    _submit(page, "new-asset", name="press-7", line_id="Press line A")
    asset = "[data-testid=asset][data-name=press-7]"
    page.wait_for_selector(asset)
    _submit(page, f"{asset} [data-testid=new-channel]", name="vibration", unit="mm/s")
    page.wait_for_selector(f"{asset} [data-testid=channel]:has-text('vibration')")
    page.set_input_files(
        f"{asset} [data-testid=import-sensors]",
        files=[
            {
                "name": "press-7.csv",
                "mimeType": "text/csv",
                "buffer": _sensor_csv("press-7", "vibration"),
            }
        ],
    )
    result = page.wait_for_selector(f"{asset} [data-testid=import-result]")
    assert "60 rows accepted, 60 new" in result.inner_text()
    page.wait_for_selector(f"{asset} [data-testid=readings-chart] canvas")
    assert "(60)" in page.inner_text(f"{asset} [data-testid=readings] h3")
    shot(page, "20-setup-company")

    # what the browser made is in the store, the new company's own
    with served.store.session(system_caller(org)) as s:
        view = setup_view(s)
    assert [s["name"] for s in view["sites"]] == ["Changwon plant"]
    assert [a["name"] for a in view["assets"]] == ["press-7"]
    assert [c["name"] for c in view["assets"][0]["channels"]] == ["vibration"]


def _raise(
    served: Served, slug: str, kind: AlertKind, subject_id: str, rule: str, severity: str
) -> str:
    with served.store.system() as s:
        org = s.organisations.get_by_slug(slug)
    with served.store.session(system_caller(org)) as s:
        alert, _ = raise_alert(s, kind, subject_id, rule, f"{rule} on the test subject", severity)
    return alert.id


def test_alerts_are_filtered_and_acknowledged(page_for: Any, served: Served) -> None:
    asset_id = served.get("mirae", "/api/assets")["items"][0]["id"]
    channel_id = served.get("mirae", f"/api/assets/{asset_id}/channels")["items"][0]["id"]
    anomaly = _raise(
        served, "mirae", AlertKind.MACHINE_ANOMALY, asset_id, "vibration x3", "critical"
    )
    _raise(served, "mirae", AlertKind.SPC_RULE, channel_id, "WE1 beyond 3 sigma", "warning")
    page = page_for("en-GB")
    log_in(page, "operator@mirae.example")
    timed_goto(page, served, "/alerts", "[data-testid=alert]", "alerts")
    assert page.locator("[data-testid=alert]").count() >= 2

    page.select_option("[data-testid=filter-kind]", "machine_anomaly")
    page.wait_for_function(
        "() => [...document.querySelectorAll('[data-testid=alert]')].every("
        "r => r.textContent.includes('Machine anomaly'))"
    )
    row = page.locator(f"[data-testid=alert][data-id='{anomaly}']")
    assert "vibration x3" in row.inner_text() and "critical" in row.inner_text()
    assert row.locator("[data-testid=alert-link]").get_attribute("href") == f"/machines/{asset_id}"
    page.select_option("[data-testid=filter-severity]", "warning")
    page.wait_for_selector(f"[data-testid=alert][data-id='{anomaly}']", state="detached")
    page.select_option("[data-testid=filter-severity]", "")
    row.wait_for()

    row.locator("[data-testid=acknowledge]").click()
    page.wait_for_selector(f"[data-testid=alert][data-id='{anomaly}'][data-status=acknowledged]")
    assert row.locator("[data-testid=alert-status]").inner_text() == "acknowledged"
    assert (
        served.get("mirae", "/api/alerts?status=acknowledged&kind=machine_anomaly")["items"][0][
            "id"
        ]
        == anomaly
    )
    shot(page, "21-alerts")
    page.select_option("[data-testid=filter-status]", "open")
    page.wait_for_selector(f"[data-testid=alert][data-id='{anomaly}']", state="detached")

    # in Korean
    page.click("[data-testid=lang]")
    page.wait_for_selector("[data-testid=page-title]:has-text('알림')")
    page.click("[data-testid=lang]")  # leave the next test's browser in English


def test_connectors_page_adds_tests_and_shows_status_and_refusals(
    page_for: Any, served: Served
) -> None:
    page = page_for("ko-KR")
    log_in(page, "engineer@hanul.example")
    timed_goto(page, served, "/connectors", "[data-testid=new-connector]", "connectors")
    assert page.inner_text("[data-testid=page-title]") == "커넥터"

    form = "[data-testid=new-connector]"
    page.fill(f"{form} [name=name]", "press-line-7")
    page.fill(f"{form} [name=host]", "127.0.0.1")
    page.fill(f"{form} [name=client_id]", "dure-hanul-7")
    page.fill(f"{form} [name=filter]", "plant/+/data")
    page.fill(f"{form} [name=asset_level]", "1")
    # no broker listens on this port: the test says so, at the host
    page.fill(f"{form} [name=port]", str(free_port()))
    page.click("[data-testid=test-connection]")
    said = page.wait_for_selector("[data-testid=test-result]").inner_text()
    assert "연결할 수 없음" in said and "refused" in said, said
    assert "refused" in page.inner_text(f"{form} [data-testid=field-error]")

    # a bad topic level is refused naming the field, then a good one is saved
    page.fill(f"{form} [name=asset_level]", "9")
    page.click("[data-testid=save-connector]")
    assert (
        "config.topics.0"
        in page.wait_for_selector(
            f"{form} ~ [data-testid=error], {form} [data-testid=field-error]"
        ).inner_text()
    )
    page.fill(f"{form} [name=asset_level]", "1")
    page.click("[data-testid=save-connector]")
    card = "[data-testid=connector][data-name=press-line-7]"
    page.wait_for_selector(card)
    assert "아직 실행되지 않음" in page.inner_text(f"{card} [data-testid=connector-status]")

    # the runner's heartbeat and a refusal, as `dure up` writes them
    connector_id = next(
        c["id"]
        for c in served.get("hanul", "/api/connectors")["items"]
        if c["name"] == "press-line-7"
    )
    with served.store.system() as s:
        org = s.organisations.get_by_slug("hanul")
    with served.store.session(system_caller(org)) as s:
        s.connectors.beat(
            connector_id,
            {
                "received": 12,
                "readings": 30,
                "rejected": 1,
                "last_received_at": time.time(),
                "source": {"kind": "mqtt", "connected": True, "last_error": ""},
            },
        )
        s.connectors.reject(
            connector_id,
            [
                StreamRejection(
                    "no asset 'press99' in this organisation",
                    time.time_ns() // 1000,
                    "plant/press99/data",
                )
            ],
        )
    page.wait_for_selector(f"{card} [data-testid=connected]:has-text('연결됨')", timeout=15_000)
    assert "측정값 30개 저장" in page.inner_text(f"{card} [data-testid=counts]")
    reason = page.wait_for_selector(f"{card} [data-testid=reject-reason]", timeout=15_000)
    assert "no asset 'press99'" in reason.inner_text()
    shot(page, "22-connectors")

    page.click(f"{card} [data-testid=toggle]")
    page.wait_for_selector(f"{card} [data-testid=enabled]:has-text('꺼짐')")
    assert served.get("hanul", f"/api/connectors/{connector_id}")["enabled"] is False
