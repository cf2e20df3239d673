"""Machine health and the Machines page's views over HTTP, on the demo world (Mirae's
press wears out towards the end of its 30 days; the other suppliers' presses do not)."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from dure.api.app import create_app
from dure.services.demo.world import build_demo
from dure.settings import Settings
from dure.store.session import Store

pytestmark = pytest.mark.slow


def _auth(tokens: dict, slug: str, role: str = "engineer") -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens[slug][role]}"}


def test_machine_health_and_views_on_the_demo(settings: Settings, store: Store) -> None:
    end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    summary = build_demo(store, settings.home, end=end, history_days=0, images_per_supplier=8)
    tokens = json.loads(summary.tokens_file.read_text())
    client = TestClient(create_app(settings, store))
    mirae, daesung = _auth(tokens, "mirae"), _auth(tokens, "daesung")

    started = time.perf_counter()
    listing = client.get("/api/machines", headers=mirae)
    list_seconds = time.perf_counter() - started
    assert listing.status_code == 200, listing.text
    (press,) = listing.json()["machines"]
    assert press["name"] == "press-800t" and press["status"] == "degrading"
    rul = press["rul"]
    assert rul["value"] is not None and rul["low"] <= rul["value"]
    assert rul["high"] is None or rul["value"] <= rul["high"]
    assert press["drivers"][0]["name"] == "vibration_rms"
    (healthy,) = client.get("/api/machines", headers=daesung).json()["machines"]
    assert healthy["status"] == "not degrading" and healthy["rul"]["value"] is None
    assert press["health_percent"] < healthy["health_percent"]

    health = client.get(f"/api/assets/{press['asset_id']}/health", headers=mirae).json()
    assert health["model"]["kind"] == "health-index"
    assert health["as_of"].startswith((end - timedelta(minutes=10)).date().isoformat()[:7])
    assert health["rul"]["unit"] in ("hours", "days") and health["drivers"][0]["share"] > 0.5
    assert {b["name"] for b in health["normal_band"]} == {
        "vibration_rms",
        "motor_current",
        "oil_temp",
    }

    # the per-asset view: trends with bands and anomaly marks, the index, alerts
    started = time.perf_counter()
    view = client.get(f"/api/machines/{press['asset_id']}", headers=mirae)
    view_seconds = time.perf_counter() - started
    assert view.status_code == 200, view.text
    page = view.json()
    vibration = next(c for c in page["channels"] if c["name"] == "vibration_rms")
    assert len(vibration["points"]) <= 300 and vibration["marks"]
    halfway = vibration["points"][len(vibration["points"]) // 2][0]
    late = [m for m in vibration["marks"] if m[0] > halfway]
    assert len(late) >= 0.8 * len(vibration["marks"]), vibration["marks"]
    healthy_page = client.get(f"/api/machines/{healthy['asset_id']}", headers=daesung).json()
    assert sum(len(c["marks"]) for c in healthy_page["channels"]) < len(late)
    assert page["health"]["index"]["now"] > page["health"]["index"]["alarm_level"]
    checked = client.post(f"/api/assets/{press['asset_id']}/anomaly-check", headers=mirae)
    assert checked.status_code == 200, checked.text
    page = client.get(f"/api/machines/{press['asset_id']}", headers=mirae).json()
    assert any(a["kind"] == "machine_anomaly" and a["open"] for a in page["alerts"])
    again = client.get("/api/machines", headers=mirae).json()["machines"][0]
    assert again["open_alerts"] >= 1

    # another organisation's machine is not found; bad input names the field
    for url in (f"/api/assets/{press['asset_id']}/health", f"/api/machines/{press['asset_id']}"):
        assert client.get(url, headers=daesung).status_code == 404
    for url, params, field in (
        (f"/api/assets/{press['asset_id']}/health", {"baseline": 3}, "baseline"),
        (f"/api/assets/{press['asset_id']}/health", {"coverage": 1.5}, "coverage"),
        (f"/api/assets/{press['asset_id']}/health", {"failure_level": 0.2}, "failure_level"),
        (f"/api/machines/{press['asset_id']}", {"points": 2}, "points"),
    ):
        bad = client.get(url, params=params, headers=mirae)
        assert bad.status_code == 422 and field in bad.text, bad.text
    too_long = client.get(
        f"/api/assets/{press['asset_id']}/health", params={"baseline": 90_000}, headers=mirae
    )
    assert too_long.status_code == 409 and "asset_id" in too_long.text
    print(len(late), len(vibration["marks"]), [len(c["marks"]) for c in healthy_page["channels"]])
    print(f"GET /api/machines {list_seconds:.3f} s, GET /api/machines/{{id}} {view_seconds:.3f} s")
